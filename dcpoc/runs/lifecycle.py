"""What a person (page or CLI) does to runs: create one, cancel, retry (a new run with the same
config) and resume (the same run from its checkpoint). Every status change is a compare-and-set
along a move that status.TRANSITIONS allows, so a concurrent claim or finish wins cleanly."""
from __future__ import annotations

import shutil
import socket
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..config import ConfigError, RunConfig
from .paths import now_utc, run_dir
from .registry import ensure_worker
from .status import RESTARTABLE, Status
from .store import Store, new_run_id

SUBMITTING = "SUBMITTING"   # job_state of a SLURM run whose sbatch is under way: no reconciler
SUBMIT_GRACE_S = 60.0       # submits it too, unless that state is older than this (its submitter died)


class RunError(ValueError):
    """A run cannot be started or resumed as asked; str() is one line."""


def create_run(store: Store, run: RunConfig, *, corpus_fingerprint: str = "",
               study: str | None = None, status: str = Status.QUEUED,
               executor: str = "local") -> str:
    """Write the run row and runs/<id>/config.json; returns the run id. The commit and library
    versions are recorded by the process that trains it (possibly on another machine). A 'slurm'
    run is never claimed by a local worker (executors.submit_run gives it a job)."""
    run_id = new_run_id()
    with folders_removed_on_failure([run_id]):   # a refused write (read-only, locked) leaves none
        return store.create_run(**queued_row(run, corpus_fingerprint, executor), study=study,
                                status=status, run_id=run_id, log_path=write_config(run_id, run))


def queued_row(run: RunConfig, corpus_fingerprint: str, executor: str = "local") -> dict:
    """run_row plus the executor, and for SLURM the state of a job not yet submitted."""
    submitting = {"job_state": SUBMITTING, "job_checked_at": now_utc()} if executor == "slurm" else {}
    return {**run_row(run, corpus_fingerprint), "executor": executor, **submitting}


def refuse_recorded(store: Store, study: str | None) -> None:
    """ConfigError when `study` holds recorded results imported from a study file: a run of this
    machine added to them would be read as part of a measurement made elsewhere."""
    row = store.get_study(study) if study else None
    recorded = (row or {}).get("config", {}) or {}
    recorded = recorded.get("recorded") if isinstance(recorded, dict) else None
    if recorded:
        raise ConfigError(f"study '{study}' holds recorded results (imported; measured "
                          f"{recorded.get('date', '?')} on {recorded.get('machine', '?')}); new runs "
                          "would mix with them: give another study name (--name)")


def run_row(run: RunConfig, corpus_fingerprint: str = "") -> dict:
    """The database fields of a new run (Store.create_run's keywords, without study and status)."""
    return dict(arch=run.model.arch, preset=run.preset, config=run.to_dict(), seed=run.train.seed,
                corpus_spec=run.train.corpus, corpus_fingerprint=corpus_fingerprint,
                total_steps=run.train.steps)


def write_config(run_id: str, run: RunConfig) -> str:
    """runs/<id>/config.json; returns the path of the run's log beside it."""
    folder = run_dir(run_id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(run.to_json())
    return str(folder / "log.txt")


@contextmanager
def folders_removed_on_failure(run_ids: list[str]) -> Iterator[None]:
    """New runs' folders (config.json) are written before the database: when writing them or the
    database fails, the folders of these runs go again, so no orphan is left behind."""
    try:
        yield
    except BaseException:
        remove_folders(run_ids)
        raise


def remove_folders(run_ids: list[str]) -> None:
    for run_id in run_ids:
        shutil.rmtree(run_dir(run_id), ignore_errors=True)


def existing_run(store: Store, run_id: str) -> dict:
    """The run's row; RunError naming the id when there is none."""
    row = store.get_run(run_id)
    if row is None:
        raise RunError(f"no run with id '{run_id}': see `python -m dcpoc runs`")
    return row


def cancel_run(store: Store, run_id: str) -> str:
    """A queued run is cancelled at once; a running one gets the cancel flag (the loop stops
    within seconds; its worker kills it processes.CANCEL_GRACE_S after). Returns the status now."""
    row = existing_run(store, run_id)
    if row["executor"] == "slurm":   # the job too: pending, or its SIGTERM stops the run at once
        from .executors import cancel_job
        cancel_job(store, row)
    if store.transition_run(run_id, (Status.QUEUED,), status=Status.CANCELLED,
                            finished_at=now_utc()):
        return Status.CANCELLED
    row = existing_run(store, run_id)
    if row["status"] == Status.RUNNING:
        store.request_cancel(run_id)
    return row["status"]


def retry_run(store: Store, run_id: str, *, start_worker: bool = True,
              slurm_changes: dict | None = None) -> str:
    """Queue a new run with the config and study of a failed or cancelled one; returns its id.
    slurm_changes: SLURM options to change for the new job (e.g. {"time_limit": "120"}); SLURM
    runs only."""
    row = existing_run(store, run_id)
    if row["status"] not in RESTARTABLE:
        raise RunError(f"run {run_id} is {row['status']}; only a failed or cancelled run can be "
                       "retried")
    options = _job_options(store, row, slurm_changes)
    new_id = create_run(store, RunConfig.from_dict(row["config"]),
                        corpus_fingerprint=row["corpus_fingerprint"], study=row["study"],
                        executor=row["executor"] or "local")
    if options is not None:
        from .executors import submit_run
        submit_run(store, existing_run(store, new_id), options)
    elif start_worker:
        ensure_worker(store)
    return new_id


def _job_options(store: Store, row: dict, changes: dict | None):
    """The SLURM options of a SLURM run's next job: the run's own with changes merged (validated
    before anything moves; a job that hit its time limit needs a longer one); None for a local
    run, where changes are refused."""
    if row["executor"] != "slurm":
        if changes:
            raise RunError(f"run {row['id']} trains locally: SLURM options ({', '.join(changes)}) "
                           "apply only to runs trained as SLURM jobs")
        return None
    from .executors import run_options
    return run_options(store, row).merged(changes)


def resume_run(store: Store, run_id: str, *, start_worker: bool = True,
               slurm_changes: dict | None = None) -> None:
    """Queue a failed or cancelled run again, to continue from its last checkpoint (same run id;
    metrics after the checkpoint step are replaced, so none are duplicated or missing).

    Only a worker on the run's recorded host claims it (Store.claim_run): the checkpoint lies
    under that host's DCPOC_HOME. The worker started here serves it only if that host is this
    one; otherwise run `python -m dcpoc worker` on that host."""
    row = existing_run(store, run_id)
    if row["status"] not in RESTARTABLE:
        raise RunError(f"run {run_id} is {row['status']}; only a failed or cancelled run can be "
                       "resumed")
    path = row["checkpoint_path"]
    slurm = row["executor"] == "slurm"   # its checkpoint is on storage every node shares
    if not path or ((slurm or row["host"] == socket.gethostname()) and not Path(path).exists()):
        raise RunError(f"run {run_id} has no checkpoint to resume from (it stopped before its "
                       "first one); retry it instead")
    options = _job_options(store, row, slurm_changes)
    if not store.transition_run(run_id, RESTARTABLE, status=Status.QUEUED,
                                resume_requested=True, cancel_requested=False, error=None,
                                finished_at=None, worker_id=None, pid=None,
                                heartbeat_at=now_utc(),   # queued now: waiting_without_worker's grace
                                **({"job_id": None, "job_state": SUBMITTING} if slurm else {})):
        raise RunError(f"run {run_id} changed state meanwhile; look at it again")
    if options is not None:
        from .executors import resubmit   # a new job, which trains with --resume
        resubmit(store, run_id, options)
    elif start_worker:
        ensure_worker(store)
