"""Training one run in this process (`python -m dcpoc train`, which a worker starts): take the run
by compare-and-set, record where and with what it runs (host, pid, git commit, library versions),
then train it through a StoreSink. Under torchrun only rank 0 touches the database."""
from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
from typing import Mapping

from .. import __version__
from ..config import RunConfig
from .lifecycle import RunError, existing_run
from .paths import CHECKPOINT_NAME, REPO_ROOT, now_utc, run_dir
from .processes import pid_alive
from .sink import StoreSink
from .status import RESTARTABLE, Status
from .store import Store


def execute_run(store: Store, run_id: str, *, resume: bool = False, progress: bool = False) -> dict:
    """Train run_id in this process (from its checkpoint when resume), recording into the store.

    The run must be queued (it is claimed first, so no worker also takes it), just created as
    running by `dcpoc train`, claimed by the worker named in $DCPOC_WORKER_ID, or (resume) stopped.
    Under torchrun, ranks other than 0 train without touching the database."""
    row = existing_run(store, run_id)
    run = RunConfig.from_dict(row["config"])
    folder = run_dir(run_id)
    if int(os.environ.get("RANK", "0")) == 0:
        mine = _claimed_by_my_worker(row)
        if not mine:
            _take(store, row, resume)
        fields = dict(status=Status.RUNNING, started_at=row["started_at"] or now_utc(), error=None,
                      pid=os.getpid(), host=socket.gethostname(), finished_at=None,
                      heartbeat_at=now_utc(), git_commit=git_commit(), versions=library_versions())
        if not mine:   # a cancel that reached a worker-claimed run before it started still counts
            fields["cancel_requested"] = False
        store.update_run(run_id, **fields, **job_started(row, os.environ))
        folder.mkdir(parents=True, exist_ok=True)
        if resume and not (folder / CHECKPOINT_NAME).exists():
            print(f"no checkpoint under {folder} on {socket.gethostname()}: training run {run_id} "
                  "from step 0", file=sys.stderr)
    from ..train import train   # it turns SIGTERM / Ctrl-C into a stop at the next step boundary
    return train(run, folder, StoreSink(store, run_id), resume=resume, progress=progress)


def job_started(row: dict, env: Mapping[str, str]) -> dict:
    """The job fields of a SLURM run whose training starts inside its own job (env's SLURM_JOB_ID):
    that job is RUNNING. Written with the run's 'running', so no reader sees it beside the PENDING
    of its submission until the next reconcile. {} anywhere else (a local run, another job)."""
    if row.get("executor") != "slurm" or not row.get("job_id") or \
            env.get("SLURM_JOB_ID") != row["job_id"]:
        return {}
    return {"job_state": "RUNNING", "job_reason": None, "job_checked_at": now_utc()}


def _claimed_by_my_worker(row: dict) -> bool:
    worker = os.environ.get("DCPOC_WORKER_ID")
    return bool(worker) and row["worker_id"] == worker and row["status"] == Status.RUNNING


def _take(store: Store, row: dict, resume: bool) -> None:
    """Check that this process may train the run and take it: a queued run is claimed from the
    queue, a failed or cancelled one (resume) is moved to running by compare-and-set, so a worker
    claiming it meanwhile (after a resume request) wins and this process stops."""
    run_id, status = row["id"], row["status"]
    if status == Status.QUEUED:
        if store.claim_run(f"cli-{os.getpid()}", socket.gethostname(), run_id=run_id) is None:
            raise RunError(_not_claimable(store, run_id))
    elif status == Status.SUCCEEDED:
        raise RunError(f"run {run_id} already finished; start a new run instead of training it again")
    elif status == Status.RUNNING and _alive_elsewhere(row):
        raise RunError(f"run {run_id} is still running (pid {row['pid']} on {row['host']}); "
                       f"cancel it first (python -m dcpoc cancel {run_id}), or wait for it to end")
    elif status != Status.RUNNING and not resume:
        raise RunError(f"run {run_id} is {status}; resume it with --resume, or retry it")
    elif status in RESTARTABLE:
        # A fresh heartbeat, so that a reaper does not judge the run lost before it starts.
        if not store.transition_run(run_id, (status,), status=Status.RUNNING, worker_id=None,
                                    host=socket.gethostname(), pid=os.getpid(),
                                    heartbeat_at=now_utc(), resume_requested=False):
            now = store.get_run(run_id)
            raise RunError(f"run {run_id} was taken meanwhile (it is now "
                           f"{now['status'] if now else 'deleted'}); see `python -m dcpoc runs`")


def _not_claimable(store: Store, run_id: str) -> str:
    """Why a queued run could not be claimed here: a worker took it, or it resumes elsewhere."""
    row = store.get_run(run_id)
    if row and row["status"] == Status.QUEUED and row["resume_requested"]:
        return (f"run {run_id} is queued to resume on host {row['host']}, where its checkpoint "
                "is; run a worker there")
    return f"run {run_id} was just taken by a worker; see `python -m dcpoc runs`"


def _alive_elsewhere(row: dict) -> bool:
    """Whether the run's recorded process is alive on this host (another host: assume alive)."""
    if not row.get("pid") or row["pid"] == os.getpid():
        return False
    if row.get("host") and row["host"] != socket.gethostname():
        return True
    return pid_alive(int(row["pid"]))


def git_commit() -> str:
    """The code's commit (12 hex digits, "-dirty" when tracked files changed), or "unknown"."""
    try:
        out = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short=12", "HEAD"],
                             capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "-uno"],
                               capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if out.returncode != 0:
        return "unknown"
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def library_versions() -> dict[str, str]:
    """Versions of what the numbers depend on, recorded with every run."""
    import numpy
    import sqlalchemy
    import torch
    versions = {"dcpoc": __version__, "python": platform.python_version(), "torch": torch.__version__,
                "numpy": numpy.__version__, "sqlalchemy": sqlalchemy.__version__}
    try:
        import triton
        versions["triton"] = triton.__version__
    except ImportError:
        versions["triton"] = "absent"
    return versions
