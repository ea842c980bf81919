#!/usr/bin/env bash
# A single-node SLURM cluster on localhost for the tests (CPU only, no cgroups, no accounting
# daemon): `start`, `stop` or `status`. Everything lives under one scratch folder
# ($DCPOC_SLURM_DIR, default /tmp/dcpoc-slurm): slurm.conf, a private munge key and socket, state,
# spool, pid and log files. Clients need SLURM_CONF=<folder>/slurm.conf (`start` prints it).
# Needs Debian's slurm-wlm and munge (scripts/system-deps.sh installs them) and root.
set -euo pipefail
DIR="${DCPOC_SLURM_DIR:-/tmp/dcpoc-slurm}"
CPUS="${DCPOC_SLURM_CPUS:-4}"   # job slots; more than the cores so tests can overlap their jobs
PORT="${DCPOC_SLURM_PORT:-6817}"  # slurmctld's port, slurmd's is the next: another cluster on this
                                  # machine needs other ports
START_TIMEOUT_S=30                # a controller that has not answered by then is not coming
export SLURM_CONF="$DIR/slurm.conf"

write_config() {
    mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log" "$DIR/munge"
    chmod 700 "$DIR/munge"
    [ -s "$DIR/munge/munge.key" ] || { dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 \
        status=none; chmod 400 "$DIR/munge/munge.key"; }
    # linuxproc + task/none: no cgroup setup needed; config_overrides: the declared CPUs are job
    # slots, not a claim about the hardware.
    cat >"$SLURM_CONF" <<EOF
ClusterName=dcpoc-test
SlurmctldHost=localhost
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$DIR/munge/munge.socket
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
SlurmdParameters=config_overrides
KillWait=15
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$CPUS State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
}

pid_of() { [ -s "$DIR/$1.pid" ] && cat "$DIR/$1.pid" || true; }
alive() { local pid; pid="$(pid_of "$1")"; [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }

start() {
    if alive slurmctld && alive slurmd && timeout 3 sinfo -h >/dev/null 2>&1; then
        echo "SLURM_CONF=$SLURM_CONF"; return 0
    fi
    stop >/dev/null 2>&1 || true
    write_config
    munged -F --key-file "$DIR/munge/munge.key" --socket "$DIR/munge/munge.socket" \
        --pid-file "$DIR/munged.pid" --log-file "$DIR/log/munged.log" \
        --seed-file "$DIR/munge/munge.seed" --force >/dev/null 2>&1 &
    echo $! >"$DIR/munged.pid"
    for _ in $(seq 50); do [ -S "$DIR/munge/munge.socket" ] && break; sleep 0.1; done
    slurmctld -D -i >>"$DIR/log/slurmctld.out" 2>&1 &
    echo $! >"$DIR/slurmctld.pid"
    slurmd -D -N localhost >>"$DIR/log/slurmd.out" 2>&1 &
    echo $! >"$DIR/slurmd.pid"
    # sinfo blocks about 10 s per try while no controller answers: bound each try and the whole
    # wait, and give up at once when a daemon died (a slurm.conf it rejects, a port in use)
    local deadline=$((SECONDS + START_TIMEOUT_S))
    while [ "$SECONDS" -lt "$deadline" ]; do
        for name in munged slurmctld slurmd; do
            if ! alive "$name"; then
                fail "$name exited at start"; return 1
            fi
        done
        if timeout 3 sinfo -h -o %t 2>/dev/null | grep -qx idle; then
            echo "SLURM_CONF=$SLURM_CONF"; return 0
        fi
        sleep 0.2
    done
    fail "the node was not idle within ${START_TIMEOUT_S} s"
    return 1
}

fail() {   # why the start failed, where to look, and nothing left running
    stop >/dev/null 2>&1 || true
    echo "error: the local SLURM did not come up ($1); see $DIR/log (slurmctld.log, slurmctld.out, slurmd.log, munged.log)" >&2
}

stop() {   # reverse order, only the processes this script started
    for name in slurmd slurmctld munged; do
        local pid; pid="$(pid_of "$name")"
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            kill "$pid"
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        fi
        rm -f "$DIR/$name.pid"
    done
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) if alive slurmctld && alive slurmd; then sinfo; else echo "not running"; exit 1; fi ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
