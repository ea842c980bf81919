"""Where runs execute: 'local' (dcpoc workers claim them from the queue) or 'slurm' (one batch job
per run). For SLURM this joins the scheduler (slurm.py) and the database, which stays the truth:
submitting a queued run (its job id on the row), the checks before anything is queued (client
commands, a database and DCPOC_HOME the nodes can reach), cancel and resume by job, and the
reconciler that folds the scheduler's job states into the runs' statuses."""
from __future__ import annotations

import ipaddress
import json
import math
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd

from .paths import REPO_ROOT, home_dir, log_tail, now_utc, run_dir, say
from .processes import child_env
from .slurm import (JOB_ACTIVE, JOB_FAILED, JOB_INTERRUPTED, JOB_UNKNOWN, SlurmError, SlurmOptions,
                    cancel, check_submission, cluster_nodes, job_details, query_jobs,
                    remote_nodes, render_script, state_label, submit)
from .status import ACTIVE, Status
from .store import Store

EXECUTORS = ("local", "slurm")
SETTINGS_KEY = "slurm"              # the defaults of every SLURM option (Settings, CLI)
OPTIONS_FILE = "slurm.json"         # runs/<id>/slurm.json: the options its jobs are submitted with
SCRIPT_FILE = "slurm.sh"
NODE_LOCAL_ROOTS = ("/tmp", "/var/tmp", "/dev/shm", "/run")
RECONCILE_PERIOD_S = 5.0            # the worker loop asks the scheduler at most this often


def check_executor(executor: str) -> str:
    if executor not in EXECUTORS:
        raise SlurmError(f"executor '{executor}': use one of {', '.join(EXECUTORS)}")
    return executor


def default_options(store: Store) -> SlurmOptions:
    """The SLURM defaults from the settings (built-in defaults where none are set)."""
    return SlurmOptions.from_dict(store.get_setting(SETTINGS_KEY, {}) or {})


def run_options(store: Store, run: dict) -> SlurmOptions:
    """The options a run's jobs use: the ones it was first submitted with (runs/<id>/slurm.json),
    else its study's, else the defaults."""
    path = run_dir(run["id"]) / OPTIONS_FILE
    if path.exists():
        return SlurmOptions.from_dict(json.loads(path.read_text()))
    study = store.get_study(run["study"]) if run.get("study") else None
    return default_options(store).merged((study or {}).get("config", {}).get("slurm"))


def slurm_env(store: Store) -> dict[str, str]:
    """The environment sbatch passes to the job (its default --export=ALL): the database URL and
    DCPOC_HOME travel this way, never in the script file."""
    return child_env(store.url)


def check_cluster(store: Store, options: SlurmOptions) -> None:
    """Everything that must hold before a run is queued for SLURM; SlurmError naming the first
    problem: the nodes of the partition must reach the database and DCPOC_HOME (reach_problem),
    and the scheduler must accept the options (sbatch --test-only, which queues nothing)."""
    env = slurm_env(store)
    problem = reach_problem(store.url, home_dir(), remote_nodes(cluster_nodes(options.partition,
                                                                              env)))
    if problem:
        raise SlurmError(problem)
    check_submission(options, env)


def reach_problem(db_url: str, home: Path, others: list[str]) -> str | None:
    """Why compute nodes other than this machine (others) could not reach the run database or the
    artifact folder, in one line; None when they can (always, when every node is this machine)."""
    if not others:
        return None
    shown = ", ".join(others[:3]) + (" ..." if len(others) > 3 else "")
    url = urlsplit(db_url)
    if url.scheme.startswith("sqlite"):
        return (f"SQLite cannot be shared with the compute nodes ({shown}): use PostgreSQL "
                "(DCPOC_DB=postgresql+psycopg2://USER:PASSWORD@DBHOST/dcpoc)")
    if _loopback(url.hostname or ""):
        return (f"the database URL points at {url.hostname or 'a local socket'}, which the compute "
                f"nodes ({shown}) cannot reach: use the database server's host name")
    if any(home == Path(root) or Path(root) in home.parents for root in NODE_LOCAL_ROOTS):
        return (f"DCPOC_HOME {home} is node-local storage: set it to a folder every node shares "
                "(NFS, Lustre ...), where checkpoints and logs live")
    return None


def _loopback(host: str) -> bool:
    """Whether a database host is this machine's own (a local socket, localhost, any loopback
    address: 127.0.0.0/8, ::1), which no other node reaches under that name."""
    if host in ("", "localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:      # a host name
        return False


def submit_run(store: Store, run: dict, options: SlurmOptions | None = None) -> str:
    """Write the run's batch script and options under runs/<id>/ and sbatch it (with --resume when
    the run is queued to resume); the job id is stored on the run. On refusal the run stays queued
    with the scheduler's message as its job reason (nothing is lost) and SlurmError is raised."""
    from ..config import RunConfig
    options = options or run_options(store, run)
    folder = run_dir(run["id"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / OPTIONS_FILE).write_text(json.dumps(options.to_dict(), indent=1))
    nproc = RunConfig.from_dict(run["config"]).train.nproc
    script = render_script(run["id"], options, resume=bool(run["resume_requested"]), nproc=nproc,
                           python=sys.executable, workdir=str(REPO_ROOT),
                           log_path=str(folder / "log.txt"))
    (folder / SCRIPT_FILE).write_text(script)
    try:
        job_id = submit(str(folder / SCRIPT_FILE), slurm_env(store))
    except SlurmError as e:
        store.update_run(run["id"], executor="slurm", job_id=None, job_state=None,
                         job_reason=str(e), job_checked_at=now_utc())
        raise
    store.update_run(run["id"], executor="slurm", job_id=job_id, job_state="PENDING",
                     job_reason=None, job_checked_at=now_utc(), log_path=str(folder / "log.txt"))
    return job_id


def submit_queued(store: Store, run_ids: list[str] | None = None) -> list[str]:
    """Submit every queued SLURM run without a job (or those of run_ids): a study's runs just
    queued, the larger sizes queued after a sweep, a submission refused earlier. Job ids."""
    from .lifecycle import SUBMIT_GRACE_S, SUBMITTING
    runs = _slurm_runs(store)
    jobs = []
    for run in runs:
        if run["status"] != Status.QUEUED or run["job_id"] or \
                (run_ids is not None and run["id"] not in run_ids):
            continue
        checked = run["job_checked_at"]
        if run_ids is None and run["job_state"] == SUBMITTING and checked is not None and \
                (now_utc() - checked).total_seconds() < SUBMIT_GRACE_S:
            continue   # its submitter is at it
        full = store.get_run(run["id"])
        if full is None:
            continue
        try:
            jobs.append(submit_run(store, full))
        except SlurmError as e:
            if run_ids is not None:
                raise
            say(f"run {run['id']}: {e}")
    return jobs


def cancel_job(store: Store, run: dict) -> None:
    """scancel the run's job while the scheduler still has it (pending, or running: the job's
    SIGTERM makes the training checkpoint and stop)."""
    if run.get("job_id") and run.get("job_state") not in _ENDED:
        cancel(run["job_id"], slurm_env(store))
        store.update_run(run["id"], job_reason="scancel requested", job_checked_at=now_utc())


def resubmit(store: Store, run_id: str, options: SlurmOptions | None = None) -> str:
    """Submit a run that lifecycle.resume_run has just queued (options: its own unless given, e.g.
    with a longer time limit; they become the run's own); its job id."""
    run = store.get_run(run_id)
    assert run is not None and run["status"] == Status.QUEUED
    return submit_run(store, run, options)


# ----------------------------------------------------------------------------- the reconciler
_ENDED = frozenset({"COMPLETED", "CANCELLED", *JOB_INTERRUPTED, *JOB_FAILED, JOB_UNKNOWN})


def _slurm_runs(store: Store) -> list[dict]:
    runs = store.list_runs()
    if runs.empty:
        return []
    records = runs[runs["executor"].eq("slurm")].to_dict("records")
    # a frame holds NaN / NaT where the row has NULL: back to None
    return [{k: None if not isinstance(v, (dict, list)) and pd.isna(v) else v
             for k, v in r.items()} for r in records]


def reconcile(store: Store) -> dict[str, str]:
    """One look at the scheduler for every SLURM run still to settle: submit queued runs without a
    job, store each job's state and reason, and settle the run a job ended without (killed,
    timed out, node lost, cancelled while pending). Returns run id -> the job state seen.
    SlurmError when the scheduler cannot be asked."""
    runs = _slurm_runs(store)
    if any(r["status"] == Status.QUEUED and not r["job_id"] for r in runs):
        submit_queued(store)
        runs = _slurm_runs(store)
    watch = [r for r in runs if r["job_id"] and (r["status"] in ACTIVE or r["job_state"] not in _ENDED)]
    if not watch:
        return {}
    env = slurm_env(store)
    jobs = query_jobs(sorted({r["job_id"] for r in watch}), env)
    seen = {}
    for run in watch:
        job = jobs[run["job_id"]]
        seen[run["id"]] = job.state
        reason = job.reason or None
        store.update_run(run["id"], job_state=job.state, job_reason=reason, job_checked_at=now_utc())
        if job.state not in JOB_ACTIVE:
            _settle(store, run, job.state, env)
    return seen


def _settle(store: Store, run: dict, state: str, env: dict[str, str]) -> None:
    """The run's status once its job has ended: what the training recorded stands, except that a
    run stopped by the scheduler (time limit, lost node: recorded 'cancelled' by its SIGTERM
    handler) is failed with the reason, and a run the job left queued or running is settled."""
    run_id, where = run["id"], f"SLURM job {run['job_id']}"
    details = job_details(run["job_id"], env) if state != JOB_UNKNOWN else {}
    tail = log_tail(run_id)
    if state in JOB_INTERRUPTED:
        what = {"TIMEOUT": f"hit its time limit ({details.get('TimeLimit', '?')})",
                "NODE_FAIL": "lost its node", "PREEMPTED": "was preempted",
                "BOOT_FAIL": "could not boot its node", "DEADLINE": "passed its deadline"}[state]
        store.transition_run(run_id, (Status.RUNNING, Status.CANCELLED, Status.QUEUED),
                             status=Status.FAILED, finished_at=now_utc(),
                             error=f"{where} {what}; resume it from its last checkpoint (a new job)"
                                   + (f"; `python -m dcpoc resume {run_id} --time-limit T` gives the new "
                                      "job a longer limit" if state == "TIMEOUT" else ""))
    elif state == "CANCELLED":   # scancel (the Runs page's Cancel, or by hand)
        store.transition_run(run_id, (Status.QUEUED, Status.RUNNING), status=Status.CANCELLED,
                             finished_at=now_utc(),
                             error=f"{where} was cancelled (scancel); resume or retry it")
    elif state == JOB_UNKNOWN:
        store.transition_run(run_id, (Status.QUEUED, Status.RUNNING), status=Status.FAILED,
                             finished_at=now_utc(),
                             error=f"{where} is no longer known to the scheduler; resume or retry it")
    else:    # COMPLETED, FAILED, OUT_OF_MEMORY ... with the run not finished: its process died
        error = (f"{where} ended ({state}, exit code {details.get('ExitCode', '?')}) before the "
                 "run recorded a result; resume it from its checkpoint")
        store.transition_run(run_id, (Status.QUEUED, Status.RUNNING), status=Status.FAILED,
                             finished_at=now_utc(), error=error + ("\n" + tail if tail else ""))


def reconcile_quietly(store: Store) -> bool:
    """reconcile for the worker loop and the dashboard: a scheduler that cannot be asked is said,
    not raised. Whether SLURM runs are still to settle (a worker keeps looking while so): a run
    queued or running, or, while the scheduler answers, a finished run whose job has not ended
    yet (the training records its result before its job leaves RUNNING / COMPLETING)."""
    try:
        reconcile(store)
        asked = True
    except (SlurmError, OSError) as e:   # an unreadable artifact folder must not stop the worker
        say(f"SLURM reconcile: {e}")
        asked = False
    return any(r["status"] in ACTIVE or (asked and r["job_id"] and r["job_state"] not in _ENDED)
               for r in _slurm_runs(store))


class PeriodicReconcile:
    """The worker loop's reconciler: at most every period_s, and only where SLURM runs exist.
    due() says whether SLURM runs are still to settle (the worker then keeps polling)."""

    def __init__(self, period_s: float = RECONCILE_PERIOD_S) -> None:
        self.period_s, self._last, self._busy = period_s, -math.inf, False

    def due(self, store: Store) -> bool:
        now = time.monotonic()
        if now - self._last >= self.period_s:
            self._last = now
            self._busy = reconcile_quietly(store) if _slurm_runs(store) else False
        return self._busy


def slurm_options(store: Store, spec) -> SlurmOptions:
    """A study's SLURM options: its spec's slurm dict over the settings' defaults."""
    check_executor(spec.executor)
    return default_options(store).merged(spec.slurm)


# ----------------------------------------------------------------------------- what pages show
def job_label(run: dict) -> str:
    """A SLURM run's job state as the Runs page's detail shows it beside the job id: 'PENDING
    (Priority)', 'RUNNING', 'TIMEOUT' ...; 'NOT SUBMITTED (why)' for one whose sbatch was refused
    (submit_run keeps the scheduler's message: it stays queued, and said nothing of why); '' for a
    local run or one not submitted yet."""
    state, reason = run.get("job_state"), run.get("job_reason")
    if run.get("executor") != "slurm":
        return ""
    if not isinstance(state, str) or not state:
        return f"NOT SUBMITTED ({reason})" if isinstance(reason, str) and reason else ""
    return state_label(state, reason if isinstance(reason, str) else None)   # NaN in a frame


def job_labels(runs: pd.DataFrame) -> dict[str, str]:
    """The job column of the runs tables (`runs`, the Runs page), by run id: the job id and its
    state, '1234 RUNNING', '1235 PENDING (Priority)', so a job can be found in squeue / scancel."""
    labels = {}
    for run in runs.to_dict("records"):
        label, job_id = job_label(run), run.get("job_id")
        labels[run["id"]] = f"{job_id} {label}" if label and isinstance(job_id, str) and job_id \
            else label
    return labels


def slurm_to_settle(runs: pd.DataFrame) -> bool:
    """Whether a runs frame holds SLURM runs that are still queued or running (cheap: no scheduler
    call), so a page asks the scheduler only when there is something to fold in."""
    return not runs.empty and bool((runs["executor"].eq("slurm") & runs["status"].isin(ACTIVE)).any())
