"""The SLURM executor. The first tests need no scheduler: the batch script, option checks, the
scheduler's output parsed, which clusters may use SQLite, and that local workers leave SLURM runs
alone. The rest submit to a real single-node SLURM on localhost (scripts/slurm-local.sh, started by
scripts/system-deps.sh, which exports DCPOC_TEST_SLURM_CONF); without it they are skipped.

The slow case (a job that hits its one-minute time limit: about 90 s) is submitted by a module
fixture before the others run and checked last, so the file costs little more than that wait."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import REPO_ROOT, home_env, run_cli, wait_for
from dcpoc.config import make_config
from dcpoc.runs import cancel_run, create_run, launch_study, resume_run
from dcpoc.runs.execute import job_started
from dcpoc.runs.executors import reach_problem, reconcile, submit_run
from dcpoc.runs.slurm import (SlurmError, SlurmOptions, parse_extra, parse_scontrol, parse_squeue,
                              remote_nodes, render_script, scheduler_message, state_label, submit)
from dcpoc.runs.store import Store
from dcpoc.studies import StudySpec

SLURM_CONF = os.environ.get("DCPOC_TEST_SLURM_CONF", "")
needs_slurm = pytest.mark.skipif(
    not SLURM_CONF or not Path(SLURM_CONF).exists(),
    reason="no local SLURM: set DCPOC_TEST_SLURM_CONF (scripts/system-deps.sh starts one with "
           "scripts/slurm-local.sh and exports it)")
SLOW = ["batch_size=32", "ckpt_every=20", "eval_every=1000", "log_every=10"]   # ~25 steps/s here


# ----------------------------------------------------------------------------- without a scheduler
def test_a_one_process_run_execs_train_so_sigterm_reaches_it():
    options = SlurmOptions(partition="gpu", account="poc", time_limit="2:00:00", gpus_per_node=1,
                           extra=["--qos=high"]).validated()
    script = render_script("r1", options, resume=False, nproc=1, python="/venv/bin/python",
                           workdir="/repo", log_path="/home/runs/r1/log.txt")
    for line in ("#SBATCH --partition=gpu", "#SBATCH --account=poc", "#SBATCH --time=2:00:00",
                 "#SBATCH --gpus-per-node=1", "#SBATCH --qos=high",
                 "#SBATCH --output=/home/runs/r1/log.txt", "#SBATCH --open-mode=append",
                 "exec /venv/bin/python -m dcpoc train --run-id r1 --no-progress"):
        assert line in script.splitlines()
    assert "DCPOC_DB" not in script                        # the password stays out of files


def test_several_nodes_start_torchrun_through_srun_with_a_rendezvous():
    script = render_script("r2", SlurmOptions(nodes=2, gpus_per_node=4), resume=True, nproc=4,
                           python="py", workdir="/repo", log_path="/l")
    last = script.splitlines()[-1]
    assert "#SBATCH --nodes=2" in script and "#SBATCH --ntasks-per-node=1" in script
    assert last.startswith("exec srun --kill-on-bad-exit=1 py -m torch.distributed.run "
                           "--nnodes=2 --nproc_per_node=4 --rdzv_backend=c10d")
    assert '--rdzv_endpoint="$head_node:29500" --rdzv_id="$SLURM_JOB_ID"' in last
    assert last.endswith("-m dcpoc train --resume r2 --no-progress")


@pytest.mark.parametrize("options, match", [
    (dict(time_limit="an hour"), "time limit 'an hour': write minutes"),
    (dict(extra=["--qos=high; rm -rf ~"]), "give one option such as --qos=high"),
    (dict(extra=["echo hi"]), "give one option"),
    (dict(partition="gpu queue"), "SLURM partition 'gpu queue'"),
    (dict(nodes=0), "nodes must be a whole number >= 1"),
], ids=["time", "shell-in-extra", "not-an-option", "partition", "nodes"])
def test_bad_options_are_one_line_errors(options, match):
    with pytest.raises(SlurmError, match=match) as e:
        SlurmOptions.from_dict(options)
    assert "\n" not in str(e.value)


def test_extra_lines_from_the_form_are_normalised():
    assert parse_extra("--qos=high\n\n#SBATCH --constraint=a100\n") == [
        "#SBATCH --qos=high", "#SBATCH --constraint=a100"]


def test_the_schedulers_output_is_parsed():
    jobs = parse_squeue("12|PENDING|Priority|\n13|RUNNING|None|node01\n14|TIMEOUT|None|node02\n")
    assert (jobs["12"].state, jobs["12"].reason) == ("PENDING", "Priority")
    assert (jobs["13"].reason, jobs["13"].nodes) == ("", "node01")
    fields = parse_scontrol("JobId=14 JobName=dcpoc-r1 JobState=TIMEOUT Reason=TimeLimit "
                            "ExitCode=0:15 TimeLimit=00:01:00")
    assert fields["ExitCode"] == "0:15" and fields["TimeLimit"] == "00:01:00"
    assert scheduler_message("sbatch: error: invalid partition specified: nope\nallocation "
                             "failure: Invalid partition name specified") == \
        "invalid partition specified: nope"


@pytest.mark.parametrize("state, reason, label", [
    ("PENDING", "Priority", "PENDING (Priority)"),
    ("RUNNING", None, "RUNNING"),
    ("PENDING", "scancel requested", "PENDING (scancel requested)"),
    ("TIMEOUT", "TimeLimit", "TIMEOUT (TimeLimit)"),
    ("FAILED", "NonZeroExitCode", "FAILED (NonZeroExitCode)"),
    ("FAILED", "RaisedSignal:9(Killed)", "FAILED (RaisedSignal:9(Killed))"),
    ("CANCELLED", "Resources", "CANCELLED"),
    ("CANCELLED", "JobHeldUser", "CANCELLED"),
    ("COMPLETED", "Priority", "COMPLETED"),
    ("TIMEOUT", "BeginTime", "TIMEOUT"),
    ("FAILED", "TimeLimit", "FAILED"),
], ids=["pending", "running", "cancel-asked", "timeout", "failed", "killed", "cancelled-pending",
        "cancelled-held", "completed", "timeout-stale", "failed-other-end"])
def test_an_ended_job_shows_only_slurms_reason_for_its_end(state, reason, label):
    """squeue keeps a job's last pending reason after a pending scancel ('CANCELLED Resources'):
    an ended job's label shows a reason only where SLURM gives it for that end."""
    assert state_label(state, reason) == label


def test_a_run_starting_inside_its_own_job_records_that_job_running():
    """The training process knows its job runs: written with 'running', no reader sees
    'running | PENDING' (the state at submission) until a reconcile."""
    slurm_run = {"executor": "slurm", "job_id": "12"}
    fields = job_started(slurm_run, {"SLURM_JOB_ID": "12"})
    assert (fields["job_state"], fields["job_reason"]) == ("RUNNING", None)
    assert job_started(slurm_run, {}) == {}                          # trained outside a job
    assert job_started(slurm_run, {"SLURM_JOB_ID": "13"}) == {}      # another job's shell
    assert job_started({"executor": "local", "job_id": None}, {"SLURM_JOB_ID": "12"}) == {}


def test_sqlite_and_node_local_homes_are_refused_only_with_other_nodes():
    assert remote_nodes([("localhost", "127.0.0.1")]) == []
    assert remote_nodes([("gpu01", "10.1.2.3"), ("localhost", "127.0.0.1")]) == ["gpu01"]
    assert reach_problem("sqlite:////tmp/x.db", Path("/tmp/runs"), []) is None
    assert "use PostgreSQL" in reach_problem("sqlite:///runs/x.db", Path("/nfs/runs"), ["gpu01"])
    for host in ("localhost", "127.0.0.1", "127.0.0.2", "127.1.2.3", "[::1]", "db.localhost"):
        assert "cannot reach" in reach_problem(f"postgresql://u:p@{host}/db", Path("/nfs"), ["g1"])
    assert "node-local" in reach_problem("postgresql://u:p@db1/db", Path("/tmp/runs"), ["g1"])
    assert reach_problem("postgresql://u:p@db1/db", Path("/nfs/runs"), ["g1"]) is None


def test_no_sbatch_on_path_is_a_one_line_error(tmp_path):
    with pytest.raises(SlurmError, match="`sbatch` is not on PATH: install the SLURM client"):
        submit(str(tmp_path / "job.sh"), env={"PATH": str(tmp_path)})


def test_a_local_worker_never_claims_a_slurm_run(dcpoc_home):
    store = Store()
    slurm_id = create_run(store, make_config("transformer", "tiny", [], steps=3), executor="slurm")
    assert store.claim_run("w1", "somehost") is None
    assert store.claim_run("job", "node07", run_id=slurm_id)["id"] == slurm_id   # its own job may


def test_runs_shows_the_job_id_beside_its_state(dcpoc_home):
    """`runs` and `runs --json` name the job (for squeue / scancel by hand), as README says."""
    store = Store()
    slurm_id = create_run(store, make_config("transformer", "tiny", [], steps=3), executor="slurm")
    store.update_run(slurm_id, job_id="1234", job_state="PENDING", job_reason="Priority")
    ended_id = create_run(store, make_config("transformer", "tiny", [], steps=3), executor="slurm")
    store.update_run(ended_id, status="cancelled", job_id="1235", job_state="CANCELLED",
                     job_reason="Resources")    # squeue's words after a pending scancel
    refused_id = create_run(store, make_config("transformer", "tiny", [], steps=3), executor="slurm")
    store.update_run(refused_id, job_state=None, job_reason="invalid partition specified: gone")
    local_id = create_run(store, make_config("dcformer", "tiny", [], steps=3))
    table = run_cli("runs")
    assert table.returncode == 0, table.stderr
    lines = {run_id: " ".join(next(line for line in table.stdout.splitlines() if run_id in line)
                              .split()) for run_id in (slurm_id, ended_id)}   # columns padded
    assert "queued 1234 PENDING (Priority)" in lines[slurm_id]
    assert "cancelled 1235 CANCELLED" in lines[ended_id] and "Resources" not in lines[ended_id]
    rows = {r["id"]: r for r in json.loads(run_cli("runs", "--json").stdout)}
    assert (rows[slurm_id]["job"], rows[slurm_id]["job_id"]) == ("1234 PENDING (Priority)", "1234")
    assert (rows[local_id]["job"], rows[local_id]["job_id"]) == ("", None)
    # a refused sbatch (submit_run keeps the run queued with the scheduler's words) says why
    assert rows[refused_id]["job"] == "NOT SUBMITTED (invalid partition specified: gone)"


@pytest.mark.skipif(shutil.which("slurmctld") is None or os.geteuid() != 0,
                    reason="needs Debian's slurm-wlm and munge, as root (scripts/system-deps.sh)")
def test_a_controller_that_dies_at_start_fails_the_start_soon_and_leaves_nothing(tmp_path):
    """slurmctld exits at once (its port is taken): `slurm-local.sh start` says so within 30 s,
    naming the log folder, where it used to wait on sinfo for about 17 minutes, and stops the
    daemons it started."""
    folder = tmp_path / "slurm"
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        env = {**os.environ, "DCPOC_SLURM_DIR": str(folder),
               "DCPOC_SLURM_PORT": str(taken.getsockname()[1]), "DCPOC_SLURM_CPUS": "1"}
        began = time.monotonic()
        done = subprocess.run(["bash", str(REPO_ROOT / "scripts" / "slurm-local.sh"), "start"],
                              env=env, capture_output=True, text=True, timeout=90)
    assert time.monotonic() - began < 35 and done.returncode == 1, done.stderr
    assert "error: the local SLURM did not come up (slurmctld exited at start); see " \
        f"{folder}/log" in done.stderr
    assert "Address already in use" in (folder / "log" / "slurmctld.log").read_text()
    assert not list(folder.glob("*.pid"))
    assert _processes_naming(str(folder)) == []                  # munged's command names it


def _processes_naming(text: str) -> list[str]:
    found = []
    for path in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text.encode() in path.read_bytes():
                found.append(path.parent.name)
        except OSError:     # it ended meanwhile
            pass
    return found


# ----------------------------------------------------------------------------- a real scheduler
@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """One artifact folder and SQLite database for the module's SLURM runs (the cluster's only
    node is this machine, so SQLite is allowed), and SLURM_CONF for the client commands."""
    home = tmp_path_factory.mktemp("slurm-home")
    env = {"DCPOC_HOME": str(home), "DCPOC_DB": f"sqlite:///{home / 'dcpoc.db'}",
           "SLURM_CONF": SLURM_CONF}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    yield home
    for key, value in saved.items():
        os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)


@pytest.fixture(scope="module")
def timeout_run(cluster):
    """A run far longer than its one-minute limit, submitted first: it times out while the other
    tests run."""
    store = Store()
    return _submit(store, 100_000, SlurmOptions(time_limit="1"))


def _submit(store: Store, steps: int, options: SlurmOptions | None = None) -> str:
    run_id = create_run(store, make_config("transformer", "tiny", SLOW, steps=steps),
                        executor="slurm")
    submit_run(store, store.get_run(run_id), options or SlurmOptions())
    return run_id


def _settled(store: Store, run_id: str, check, timeout: float = 120.0) -> dict:
    """Reconcile until check(row) holds; the row."""
    def look():
        reconcile(store)
        row = store.get_run(run_id)
        return row if check(row) else None
    return _wait(store, run_id, look, timeout, 0.5)


def _at_step(store: Store, run_id: str, step: int, timeout: float = 120.0) -> dict:
    return _wait(store, run_id, lambda: (store.get_run(run_id)["step"] or 0) >= step and
                 store.get_run(run_id), timeout, 0.2)


def _wait(store: Store, run_id: str, look, timeout: float, every: float):
    """wait_for, saying where the run and its job stood when it timed out."""
    try:
        return wait_for(look, timeout=timeout, every=every)
    except AssertionError:
        row = store.get_run(run_id)
        raise AssertionError(f"timed out: {row['status']} step {row['step']} pid {row['pid']} job "
                             f"{row['job_id']} {row['job_state']} {row['error']}") from None


def _contiguous(store: Store, run_id: str) -> None:
    """Train-loss rows at every logged step up to the last one, none twice (across jobs)."""
    steps = list(store.get_metrics(run_id).query("key == 'train_loss'")["step"])
    assert steps == sorted(set(steps)) and len(steps) > 2, steps
    assert len({b - a for a, b in zip(steps, steps[1:])}) == 1, steps     # no gap


def _runs_line(run_id: str) -> str:
    """The run's line of `python -m dcpoc runs`, columns single-spaced."""
    out = run_cli("runs")
    assert out.returncode == 0, out.stderr
    return " ".join(next(line for line in out.stdout.splitlines() if run_id in line).split())


@needs_slurm
def test_a_pending_job_reads_queued_and_cancelled_without_its_pending_reason(cluster):
    """A job held by its start time: its run is queued beside PENDING from submission on; once
    scancelled while pending, its label is CANCELLED without the reason it waited for."""
    store = Store()
    run_id = _submit(store, 3, SlurmOptions.from_dict({"extra": ["--begin=now+600"]}))
    job = store.get_run(run_id)["job_id"]
    assert f"queued {job} PENDING" in _runs_line(run_id)                # before any reconcile
    row = _settled(store, run_id, lambda r: r["job_reason"] == "BeginTime", timeout=30)
    assert row["status"] == "queued"
    cancel_run(store, run_id)
    row = _settled(store, run_id, lambda r: r["job_state"] == "CANCELLED", timeout=30)
    assert row["status"] == "cancelled" and row["job_reason"] == "BeginTime"   # squeue keeps it
    line = _runs_line(run_id)
    assert f"cancelled {job} CANCELLED" in line and "BeginTime" not in line


@needs_slurm
def test_a_two_architecture_study_runs_as_batch_jobs(cluster, timeout_run):
    store = Store()
    spec = StudySpec(name="slurm-pair", presets=["tiny"], steps=30, executor="slurm")
    ids = launch_study(store, spec, start_worker=False)
    rows = [store.get_run(i) for i in ids]
    assert {r["arch"] for r in rows} == {"transformer", "dcformer"}
    assert all(r["executor"] == "slurm" and r["job_id"] for r in rows)
    for run_id in ids:
        row = _settled(store, run_id, lambda r: r["status"] == "succeeded" and
                       r["job_state"] == "COMPLETED")
        assert row["step"] == 30 and row["final_val_loss"] > 0
        assert f"slurm job {row['job_id']} on" in (cluster / run_id / "log.txt").read_text()
    out = run_cli("runs", "--study", "slurm-pair")
    assert out.stdout.count("succeeded") == 2, out.stderr
    assert out.stdout.count("COMPLETED") == 2 and " job " in out.stdout.splitlines()[0]
    for row in rows:
        assert f"{row['job_id']} COMPLETED" in out.stdout


@needs_slurm
def test_scancel_mid_run_is_reconciled_and_resumable(cluster):
    store = Store()
    run_id = _submit(store, 600)
    _at_step(store, run_id, 60)
    first_job = store.get_run(run_id)["job_id"]
    # nothing reconciled since sbatch (PENDING): the training process wrote its job's state
    assert f"running {first_job} RUNNING" in _runs_line(run_id)
    cancel_run(store, run_id)                                   # the Runs page's Cancel
    row = _settled(store, run_id, lambda r: r["status"] == "cancelled" and
                   r["job_state"] == "CANCELLED", timeout=60)
    stopped_at = row["step"]
    assert stopped_at < 600 and row["checkpoint_path"]
    resume_run(store, run_id)                                   # a new job, --resume
    row = _settled(store, run_id, lambda r: r["status"] == "succeeded", timeout=180)
    assert row["job_id"] != first_job and row["step"] == 600
    assert "--resume" in (cluster / run_id / "slurm.sh").read_text()
    _contiguous(store, run_id)


@needs_slurm
def test_a_hard_killed_job_fails_with_its_exit_and_resumes(cluster):
    store = Store()
    run_id = _submit(store, 500)
    _at_step(store, run_id, 60)
    os.kill(store.get_run(run_id)["pid"], signal.SIGKILL)        # the training process dies
    row = _settled(store, run_id, lambda r: r["status"] == "failed", timeout=60)
    assert row["job_state"] == "FAILED"
    assert row["error"].startswith(f"SLURM job {row['job_id']} ended (FAILED, exit code")
    killed_job = row["job_id"]
    # `train --resume` of a SLURM run: a new job, where it trained in this shell (a login node)
    # and left the old job's FAILED beside 'succeeded' for ever
    out = run_cli("train", "--resume", run_id)
    assert out.returncode == 0 and "queued to resume" in out.stdout and "SLURM job" in out.stdout, out.stderr
    row = _settled(store, run_id, lambda r: r["status"] == "succeeded", timeout=180)
    assert row["step"] == 500 and row["error"] is None
    assert row["job_id"] != killed_job and row["job_state"] in ("RUNNING", "COMPLETING", "COMPLETED")
    _contiguous(store, run_id)


@needs_slurm
def test_a_two_process_run_starts_through_srun_and_torchrun(cluster):
    out = run_cli("train", "--arch", "dcformer", "--preset", "tiny", "--steps", "10", "--set",
                  "nproc=2", "--executor", "slurm", "--time-limit", "5")
    assert out.returncode == 0 and "submitted as SLURM job" in out.stdout, out.stderr
    run_id = out.stdout.split()[1].rstrip(":")
    store = Store()
    row = _settled(store, run_id, lambda r: r["status"] == "succeeded" and
                   r["job_state"] == "COMPLETED")
    script = (cluster / run_id / "slurm.sh").read_text()
    assert "exec srun --kill-on-bad-exit=1" in script and "--nproc_per_node=2" in script
    assert row["step"] == 10 and "#SBATCH --time=5" in script


@needs_slurm
def test_a_bad_partition_is_one_line_and_queues_nothing(cluster):
    store = Store()
    spec = StudySpec(name="bad-partition", presets=["tiny"], steps=3, executor="slurm",
                     slurm={"partition": "nosuchpart"})
    before = len(store.list_runs())
    with pytest.raises(SlurmError, match="invalid partition specified: nosuchpart") as e:
        launch_study(store, spec, start_worker=False)
    assert "\n" not in str(e.value)
    assert store.get_study("bad-partition") is None and len(store.list_runs()) == before
    out = run_cli("study", "launch", "--name", "bad-cli", "--steps", "3", "--executor", "slurm",
                  "--partition", "nosuchpart")
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert "SLURM refused the job: invalid partition specified: nosuchpart" in out.stderr
    assert store.get_study("bad-cli") is None
    assert run_cli("slurm", "check").stdout.startswith("ok: SLURM accepts runs")


@needs_slurm
def test_a_job_that_hits_its_time_limit_is_resumable(cluster, timeout_run):
    store = Store()
    row = _settled(store, timeout_run, lambda r: r["job_state"] == "TIMEOUT", timeout=240)
    assert row["status"] == "failed" and "hit its time limit" in row["error"]
    stopped_at = row["step"]
    assert stopped_at > 0 and row["checkpoint_path"]
    assert f"`python -m dcpoc resume {timeout_run} --time-limit T`" in row["error"]
    out = run_cli("slurm", "reconcile")
    assert out.returncode == 0, out.stderr
    # the limit it hit, raised for the new job (Resume kept the run's first options for ever)
    out = run_cli("resume", timeout_run, "--time-limit", "7")
    assert out.returncode == 0 and "SLURM job" in out.stdout, out.stderr
    assert "#SBATCH --time=7" in (cluster / timeout_run / "slurm.sh").read_text()
    assert '"time_limit": "7"' in (cluster / timeout_run / "slurm.json").read_text()
    _at_step(store, timeout_run, stopped_at + 20)
    cancel_run(store, timeout_run)
    _settled(store, timeout_run, lambda r: r["status"] == "cancelled", timeout=60)
    _contiguous(store, timeout_run)


@needs_slurm
def test_the_worker_folds_in_the_last_jobs_end_before_it_exits(cluster, tmp_path, monkeypatch):
    """A run records its result before its job leaves RUNNING (the process still exits, the job
    completes): the worker must not exit with 'succeeded | RUNNING' left behind. Here the job is a
    real one that keeps running 6 s after its run succeeded, in a database of its own (the
    module's other runs would keep the worker busy)."""
    home = tmp_path / "home"
    for name, value in home_env(home).items():
        monkeypatch.setenv(name, value)
    store = Store()
    run_id = create_run(store, make_config("transformer", "tiny", [], steps=3), executor="slurm")
    script = tmp_path / "job.sh"
    script.write_text(f"#!/bin/bash\n#SBATCH --output={tmp_path / 'job.out'}\nsleep 6\n")
    job_id = submit(str(script), dict(os.environ))
    store.update_run(run_id, status="succeeded", step=3, job_id=job_id, job_state="RUNNING")
    done = run_cli("worker", timeout=120)
    assert done.returncode == 0, done.stderr
    row = store.get_run(run_id)
    assert (row["status"], row["job_state"]) == ("succeeded", "COMPLETED")
    assert f"{job_id} COMPLETED" in run_cli("runs").stdout


@needs_slurm
def test_a_controller_that_does_not_answer_says_what_to_do(cluster, tmp_path, monkeypatch):
    """The cluster's configuration with the controller's port pointing where nothing listens (and
    short client timeouts): check, launch and reconcile each say in one line that no controller
    answered and how to find out why; nothing is queued."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    conf = tmp_path / "slurm.conf"
    lines = [line for line in Path(SLURM_CONF).read_text().splitlines()
             if not line.startswith(("SlurmctldPort=", "MessageTimeout=", "TCPTimeout="))]
    conf.write_text("\n".join(lines + [f"SlurmctldPort={free}", "MessageTimeout=2",
                                       "TCPTimeout=1"]) + "\n")
    for name, value in {**home_env(tmp_path / "home"), "SLURM_CONF": str(conf)}.items():
        monkeypatch.setenv(name, value)
    store = Store()
    run_id = create_run(store, make_config("transformer", "tiny", [], steps=3), executor="slurm")
    store.update_run(run_id, job_id="99999", job_state="RUNNING")
    for args in (("slurm", "check"), ("study", "launch", "--name", "down", "--steps", "3",
                                      "--executor", "slurm", "--no-worker"),
                 ("slurm", "reconcile")):
        done = run_cli(*args, timeout=120)
        assert done.returncode == 2 and done.stderr.count("\n") == 1, (args, done.stderr)
        assert "Unable to contact slurm controller" in done.stderr, (args, done.stderr)
        assert "is slurmctld up? `scontrol ping` says whether the controller answers" in \
            done.stderr, (args, done.stderr)
    assert store.get_study("down") is None and len(store.list_runs()) == 1
