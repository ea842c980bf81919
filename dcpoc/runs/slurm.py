"""Talking to SLURM: a run's batch script, its submission (sbatch), the scheduler's view of its jobs
(squeue -t all, scontrol show job), cancelling (scancel) and the cluster's nodes (sinfo). Only the
standard library and the SLURM client commands: nothing here knows the database (executors.py joins
the two). Every failure a user can act on is a SlurmError whose str() is one line.

sacct is not used: it needs the accounting daemon (slurmdbd), which many small clusters do not run;
squeue -t all keeps finished jobs for MinJobAge (300 s by default), and the reconciler runs far more
often than that."""
from __future__ import annotations

import re
import shlex
import shutil
import socket
import subprocess
from dataclasses import asdict, dataclass, field
from typing import Any

COMMAND_TIMEOUT_S = 30.0
# Job states (squeue %T) by what they mean for the run: still to happen, or over.
JOB_ACTIVE = frozenset({"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED",
                        "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING", "SIGNALING", "STAGE_OUT",
                        "RESV_DEL_HOLD", "STOPPED"})
# Ended by the scheduler or the machine, not by the training: resumable from the checkpoint.
JOB_INTERRUPTED = frozenset({"TIMEOUT", "NODE_FAIL", "PREEMPTED", "BOOT_FAIL", "DEADLINE"})
JOB_FAILED = frozenset({"FAILED", "OUT_OF_MEMORY", "SPECIAL_EXIT"})
JOB_UNKNOWN = "UNKNOWN"      # the scheduler no longer knows the job (older than MinJobAge)
# The reasons SLURM gives when it ends a job, by final state (squeue %r). A job ended any other way
# keeps the reason it last waited for ('Resources', 'JobHeldUser' after a pending scancel), which
# says nothing about its end.
END_REASONS: dict[str, frozenset[str]] = {
    "TIMEOUT": frozenset({"TimeLimit", "InactiveLimit"}),
    "FAILED": frozenset({"NonZeroExitCode", "RaisedSignal", "JobLaunchFailure", "SystemFailure",
                         "BadConstraints", "InvalidAccount", "InvalidQOS"}),
    "NODE_FAIL": frozenset({"NodeDown"}),
    "OUT_OF_MEMORY": frozenset({"OutOfMemory"}),
    "DEADLINE": frozenset({"DeadLine"}),
}
_TIME_LIMIT = re.compile(r"(\d+-)?\d+(:\d{1,2}){0,2}|\d+-\d+(:\d{1,2})?")
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "127.0.0.1", "::1"}
RENDEZVOUS_PORT = 29500
# the client commands' words for a controller that does not answer (down, unreachable, overloaded)
_NO_CONTROLLER = ("unable to contact slurm controller", "socket timed out",
                  "zero bytes were transmitted")
CONTROLLER_DOWN = ("is slurmctld up? `scontrol ping` says whether the controller answers (start it, "
                   "or ask the cluster's administrators); nothing was queued")


class SlurmError(ValueError):
    """A SLURM command is missing or refused what was asked; str() is one line."""


@dataclass
class SlurmOptions:
    """What a run's batch job asks the scheduler for; empty strings leave the cluster's default."""
    partition: str = ""
    account: str = ""
    nodes: int = 1
    gpus_per_node: int = 0
    cpus_per_task: int = 1
    time_limit: str = ""            # SLURM syntax: MM, HH:MM:SS, D-HH:MM ...; '' = the partition's
    extra: list[str] = field(default_factory=list)   # more #SBATCH lines, e.g. "--qos=high"

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "SlurmOptions":
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in (data or {}).items() if k in known}).validated()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def merged(self, changes: dict[str, Any] | None) -> "SlurmOptions":
        """These options with every non-empty value of changes (None and '' keep the current)."""
        given = {k: v for k, v in (changes or {}).items()
                 if k in self.__dataclass_fields__ and v not in (None, "", [])}
        return SlurmOptions.from_dict({**self.to_dict(), **given})

    def validated(self) -> "SlurmOptions":
        """Self, with extra lines normalised; SlurmError naming the first bad field."""
        for name in ("partition", "account"):
            value = str(getattr(self, name)).strip()
            if value and not re.fullmatch(r"[\w.\-+,]+", value):
                raise SlurmError(f"SLURM {name} '{value}': use the name `sinfo` / `sacctmgr` shows")
            setattr(self, name, value)
        for name, low in (("nodes", 1), ("gpus_per_node", 0), ("cpus_per_task", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise SlurmError(f"SLURM {name.replace('_', ' ')} must be a whole number >= {low}")
        self.time_limit = str(self.time_limit).strip()
        if self.time_limit and not _TIME_LIMIT.fullmatch(self.time_limit):
            raise SlurmError(f"SLURM time limit '{self.time_limit}': write minutes, HH:MM:SS or "
                             "D-HH:MM:SS, e.g. 30 or 2:00:00")
        self.extra = [_sbatch_line(line) for line in self.extra if str(line).strip()]
        return self


def _sbatch_line(line: str) -> str:
    """'--qos=high' or '#SBATCH --qos=high' -> '#SBATCH --qos=high'; SlurmError for anything else
    (a line of shell would run on the cluster under the user's name)."""
    text = str(line).strip()
    option = text.removeprefix("#SBATCH").strip()
    if "\n" in text or not re.fullmatch(r"-{1,2}[A-Za-z][\w-]*(([= ])[^\s;&|`$<>\\]+)?", option):
        raise SlurmError(f"extra #SBATCH line '{text}': give one option such as --qos=high or "
                         "--constraint=a100")
    return f"#SBATCH {option}"


def parse_extra(text: str) -> list[str]:
    """The Launch form's text area (one option a line) -> normalised #SBATCH lines."""
    return [_sbatch_line(line) for line in text.splitlines() if line.strip()]


# ----------------------------------------------------------------------------- the batch script
def render_script(run_id: str, options: SlurmOptions, *, resume: bool, nproc: int, python: str,
                  workdir: str, log_path: str) -> str:
    """The batch script of one run. One process: `python -m dcpoc train`, exec'd so the scheduler's
    SIGTERM (time limit, scancel) reaches the training loop, which checkpoints and stops. nproc > 1
    or several nodes: srun starts one torchrun per node, which rendezvous (c10d) on the first node
    and start nproc ranks each; the database and DCPOC_HOME come from the submitting environment
    (sbatch exports it), so no password lands in the script."""
    lines = ["#!/bin/bash", f"#SBATCH --job-name=dcpoc-{run_id}", f"#SBATCH --output={log_path}",
             "#SBATCH --open-mode=append", f"#SBATCH --chdir={workdir}",
             f"#SBATCH --nodes={options.nodes}", "#SBATCH --ntasks-per-node=1",
             f"#SBATCH --cpus-per-task={max(options.cpus_per_task, nproc)}"]
    if options.partition:
        lines.append(f"#SBATCH --partition={options.partition}")
    if options.account:
        lines.append(f"#SBATCH --account={options.account}")
    if options.gpus_per_node:
        lines.append(f"#SBATCH --gpus-per-node={options.gpus_per_node}")
    if options.time_limit:
        lines.append(f"#SBATCH --time={options.time_limit}")
    lines += options.extra
    entry = ["-m", "dcpoc", "train", "--resume" if resume else "--run-id", run_id, "--no-progress"]
    lines += ["", "set -eu", f'echo "$(date -u "+%Y-%m-%d %H:%M:%S") slurm job $SLURM_JOB_ID on '
              f'$(hostname): run {run_id}{" (resume)" if resume else ""}"']
    if nproc == 1 and options.nodes == 1:
        lines.append("exec " + shlex.join([python, *entry]))
        return "\n".join(lines) + "\n"
    lines += ['head_node=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
              # --kill-on-bad-exit: one node failing stops the others instead of hanging DDP
              "exec srun --kill-on-bad-exit=1 " + shlex.join(
                  [python, "-m", "torch.distributed.run", f"--nnodes={options.nodes}",
                   f"--nproc_per_node={nproc}", "--rdzv_backend=c10d"])
              + f' --rdzv_endpoint="$head_node:{RENDEZVOUS_PORT}" --rdzv_id="$SLURM_JOB_ID" '
              + shlex.join(entry)]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- commands
def _run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    if shutil.which(args[0], path=(env or {}).get("PATH")) is None:
        raise SlurmError(f"`{args[0]}` is not on PATH: install the SLURM client commands on this "
                         "machine (Debian: slurm-client) or run dcpoc on a login node")
    try:
        return subprocess.run(args, capture_output=True, text=True, env=env,
                              timeout=COMMAND_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise SlurmError(f"`{args[0]}` did not answer within {COMMAND_TIMEOUT_S:g} s; "
                         f"{CONTROLLER_DOWN}") from None


def scheduler_message(stderr: str) -> str:
    """The scheduler's first error line, without the command's prefix: one line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()] or lines or ["no message"]
    return re.sub(r"^\w+: error: ", "", errors[0])


def _no_controller(proc: subprocess.CompletedProcess) -> bool:
    return any(words in proc.stderr.lower() for words in _NO_CONTROLLER)


def _failed(command: str, proc: subprocess.CompletedProcess) -> SlurmError:
    """'COMMAND failed: the scheduler's message', with what to do when no controller answered."""
    return SlurmError(f"{command} failed: {scheduler_message(proc.stderr)}"
                      + (f"; {CONTROLLER_DOWN}" if _no_controller(proc) else ""))


def _refused(what: str, proc: subprocess.CompletedProcess) -> SlurmError:
    if _no_controller(proc):
        return _failed("sbatch", proc)    # nobody refused: nobody answered
    return SlurmError(f"SLURM refused {what}: {scheduler_message(proc.stderr)} (check the "
                      "partition, account, GPUs and time limit; `sinfo` lists partitions)")


def check_submission(options: SlurmOptions, env: dict[str, str] | None = None) -> None:
    """sbatch --test-only with these options: the scheduler validates partition, account and limits
    without queueing anything; SlurmError with its message when it refuses."""
    args = ["sbatch", "--test-only", f"--nodes={options.nodes}", "--wrap=true"]
    args += [f"--partition={options.partition}"] * bool(options.partition)
    args += [f"--account={options.account}"] * bool(options.account)
    args += [f"--gpus-per-node={options.gpus_per_node}"] * bool(options.gpus_per_node)
    args += [f"--time={options.time_limit}"] * bool(options.time_limit)
    args += [line.removeprefix("#SBATCH ") for line in options.extra]
    proc = _run(args, env)
    if proc.returncode != 0:
        raise _refused("the job", proc)


def submit(script_path: str, env: dict[str, str] | None = None) -> str:
    """sbatch the script; the job id. SlurmError with the scheduler's message when refused."""
    proc = _run(["sbatch", "--parsable", script_path], env)
    if proc.returncode != 0:
        raise _refused("the job", proc)
    job_id = proc.stdout.strip().split(";")[0]   # "ID" or "ID;cluster"
    if not job_id.isdigit():
        raise SlurmError(f"sbatch answered '{proc.stdout.strip()}' instead of a job id")
    return job_id


@dataclass
class JobInfo:
    job_id: str
    state: str                     # squeue %T: PENDING, RUNNING, COMPLETED, TIMEOUT ... or UNKNOWN
    reason: str = ""               # why pending, or why it ended, or stale: see END_REASONS
    nodes: str = ""


def state_label(state: str, reason: str | None) -> str:
    """A job's state as people read it: 'PENDING (Priority)', 'RUNNING', 'TIMEOUT (TimeLimit)',
    'CANCELLED'. A job still in the scheduler shows any reason; an ended one only SLURM's reason
    for that end (END_REASONS), never one left from its pending time."""
    # by name: SLURM adds details after a colon ('RaisedSignal:9(Killed)'), which are shown
    if state not in JOB_ACTIVE and (reason or "").split(":")[0] not in END_REASONS.get(state, ()):
        reason = None
    return f"{state} ({reason})" if reason else state


def parse_squeue(text: str) -> dict[str, JobInfo]:
    """`squeue -h -o %i|%T|%r|%N` lines -> job id -> JobInfo (array and het jobs keep their id)."""
    jobs = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) < 2 or not parts[0]:
            continue
        reason = parts[2] if len(parts) > 2 and parts[2] not in ("None", "(null)") else ""
        jobs[parts[0]] = JobInfo(parts[0], parts[1].split()[0], reason,
                                 parts[3] if len(parts) > 3 else "")
    return jobs


def query_jobs(job_ids: list[str], env: dict[str, str] | None = None) -> dict[str, JobInfo]:
    """The scheduler's view of these jobs in one squeue call (finished ones too: -t all); a job it
    no longer knows is JOB_UNKNOWN. SlurmError when the scheduler cannot be asked."""
    if not job_ids:
        return {}
    proc = _run(["squeue", "-h", "-t", "all", "-j", ",".join(job_ids), "-o", "%i|%T|%r|%N"], env)
    if proc.returncode != 0 and "invalid job id" not in proc.stderr.lower():
        raise _failed("squeue", proc)
    found = parse_squeue(proc.stdout if proc.returncode == 0 else "")
    return {j: found.get(j, JobInfo(j, JOB_UNKNOWN)) for j in job_ids}


def parse_scontrol(text: str) -> dict[str, str]:
    """`scontrol show job -o ID` (Key=Value ...) -> a dict (values without spaces, except the last)."""
    return dict(m.groups() for m in re.finditer(r"(\w+(?:/\w+)?)=(\S*)", text))


def job_details(job_id: str, env: dict[str, str] | None = None) -> dict[str, str]:
    """scontrol's fields of a job (ExitCode, TimeLimit, NodeList ...); {} when it is unknown."""
    proc = _run(["scontrol", "show", "job", "-o", job_id], env)
    return parse_scontrol(proc.stdout) if proc.returncode == 0 else {}


def cancel(job_id: str, env: dict[str, str] | None = None) -> None:
    """scancel: the job's processes get SIGTERM (the run checkpoints and stops), SIGKILL after
    KillWait. A job already gone is not an error."""
    proc = _run(["scancel", job_id], env)
    if proc.returncode != 0 and "invalid job id" not in proc.stderr.lower() \
            and "already completing" not in proc.stderr.lower():
        raise _failed(f"scancel {job_id}", proc)


def cluster_nodes(partition: str = "", env: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """(host name, address) of every node of the partition (all partitions when ''), from sinfo."""
    args = ["sinfo", "-h", "-N", "-o", "%n|%o"] + (["-p", partition] if partition else [])
    proc = _run(args, env)
    if proc.returncode != 0:
        raise _failed("sinfo", proc)
    nodes = {tuple(line.strip().split("|", 1)) for line in proc.stdout.splitlines() if "|" in line}
    return sorted((a, b) for a, b in nodes)


def remote_nodes(nodes: list[tuple[str, str]]) -> list[str]:
    """The nodes that are not this machine (by name or address)."""
    here = {socket.gethostname(), socket.getfqdn(), *_LOCAL_NAMES}
    try:
        here |= set(socket.gethostbyname_ex(socket.gethostname())[2])
    except OSError:
        pass
    return [name for name, addr in nodes
            if name not in here and addr not in here and not addr.startswith("127.")]
