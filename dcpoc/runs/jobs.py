"""Run lifecycle outside the UI: create runs, queue studies, and the worker that runs queued runs
one at a time, each in its own process (torchrun when a run asks for several processes); heartbeats,
cancel, retry, resume and the reaping of lost runs.

The training loop reports to a StoreSink; this module is the only place that joins train and store.
Importing it does not import torch (the dashboard imports it): train and data are imported where a
run is executed or a corpus is read.
"""
from __future__ import annotations

import dataclasses
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .. import __version__, costs
from ..config import ConfigError, RunConfig
from ..decision.analysis import counted_runs
from .store import Store, StoreError, UnknownRunError
from ..studies.spec import StudySpec, carry_lr, ladder, plan_stages, validate_name
from ..decision.tuning import best_lrs, run_lr

REPO_ROOT = Path(__file__).resolve().parents[2]
LOST_AFTER_S = 30.0       # a running run whose heartbeat is older is lost
WORKER_BEAT_S = 2.0       # worker heartbeat period (its own row and the run it supervises)
WORKER_STALE_S = 15.0     # a worker silent this long is dead
CANCEL_GRACE_S = 5.0      # after the cancel flag, the worker kills the run's processes
WATCH_S = 0.25            # how often the worker looks at its run's process and cancel flag
DEVICE_PATTERN = re.compile(r"auto|cpu(:\d+)?|cuda(:\d+(,\d+)*)?")


class RunError(ValueError):
    """A run cannot be started or resumed as asked; str() is one line."""


def home_dir() -> Path:
    return Path(os.environ.get("DCPOC_HOME", "runs")).resolve()


def run_dir(run_id: str) -> Path:
    return home_dir() / run_id


def git_commit() -> str:
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


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


class StoreSink:
    """Sink of the training loop that writes to the store in small batched transactions.

    A daemon thread heartbeats on its own, so a long first (compiled) step, evaluation or
    checkpoint does not make the run look lost to a reaper on another machine."""

    BACKGROUND_HEARTBEAT_S = 5.0

    def __init__(self, store: Store, run_id: str):
        self.store, self.run_id = store, run_id
        self._stopped = threading.Event()
        self._beater = threading.Thread(target=self._beat, name=f"heartbeat-{run_id}", daemon=True)
        self._beater.start()

    def _beat(self) -> None:
        while not self._stopped.wait(self.BACKGROUND_HEARTBEAT_S):
            try:
                self.store.heartbeat(self.run_id)
            except StoreError:   # a busy or briefly unreachable database: the next beat retries
                pass

    def _stop_heartbeat(self) -> None:
        self._stopped.set()

    def on_start(self, info: dict) -> None:
        # Metrics past the checkpoint we restart from would be duplicated: drop them first.
        self.store.truncate_metrics(self.run_id, info["start_step"])
        self.store.update_run(self.run_id, status="running", n_params=info["n_params"],
                              flops_per_token=info["flops_per_token"], device=info["device"],
                              corpus_fingerprint=info["corpus_fingerprint"], step=info["start_step"],
                              total_steps=info["total_steps"], heartbeat_at=now_utc())

    def on_metrics(self, rows: list[dict]) -> None:
        self.store.log_metrics(self.run_id, rows)

    def on_checkpoint(self, step: int, path: str) -> None:
        self.store.update_run(self.run_id, checkpoint_path=path, step=step)

    def on_heartbeat(self, step: int) -> None:
        self.store.heartbeat(self.run_id, step)

    def should_cancel(self) -> bool:
        return self.store.cancel_requested(self.run_id)

    def on_end(self, status: str, summary: dict, error: str | None) -> None:
        self._stop_heartbeat()
        prices = self.store.get_setting("prices", None)
        run = self.store.get_run(self.run_id)
        kind = run["config"]["train"].get("gpu_type", "auto") if run else "auto"
        try:
            cost = costs.run_cost_usd(summary["wall_s"], summary["device"],
                                      summary.get("n_devices", 1), prices=prices, kind=kind)
        except costs.PriceError:   # no price for its kind: the run's results still count
            cost = None
        self.store.update_run(
            self.run_id, status=status, error=error, finished_at=now_utc(), step=summary["step"],
            tokens_seen=summary["tokens_seen"], wall_s=summary["wall_s"],
            final_val_loss=summary["final_val_loss"], diverged=summary["diverged"],
            tokens_per_s=summary["tokens_per_s"],
            peak_mem_bytes=summary["peak_mem_bytes"], mfu=summary["mfu"], cost_usd=cost)


def create_run(store: Store, run: RunConfig, *, corpus_fingerprint: str = "",
               study: str | None = None, status: str = "queued") -> str:
    """Write the run row and runs/<id>/config.json; returns the run id. The commit and library
    versions are recorded by the process that trains it (possibly on another machine)."""
    run_id = store.create_run(**run_row(run, corpus_fingerprint), study=study, status=status)
    write_run_files(store, run_id, run)
    return run_id


def run_row(run: RunConfig, corpus_fingerprint: str = "") -> dict:
    """The database fields of a new run (Store.create_run's keywords, without study and status)."""
    return dict(arch=run.model.arch, preset=run.preset, config=run.to_dict(), seed=run.train.seed,
                corpus_spec=run.train.corpus, corpus_fingerprint=corpus_fingerprint,
                total_steps=run.train.steps)


def write_run_files(store: Store, run_id: str, run: RunConfig) -> None:
    """runs/<id>/config.json, and the run row's log path."""
    folder = run_dir(run_id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(run.to_json())
    store.update_run(run_id, log_path=str(folder / "log.txt"))


# ----------------------------------------------------------------------------- executing a run

def execute_run(store: Store, run_id: str, *, resume: bool = False, progress: bool = False) -> dict:
    """Train run_id in this process (from its checkpoint when resume), recording into the store.

    The run must be queued (it is claimed first, so no worker also takes it), just created as
    running by `dcpoc train`, claimed by the worker named in $DCPOC_WORKER_ID, or (resume) stopped.
    Under torchrun, ranks other than 0 train without touching the database."""
    row = store.get_run(run_id)
    if row is None:
        raise RunError(f"no run with id '{run_id}': see `python -m dcpoc runs`")
    run = RunConfig.from_dict(row["config"])
    folder = run_dir(run_id)
    if int(os.environ.get("RANK", "0")) == 0:
        mine = _claimed_by_my_worker(row)
        if not mine:
            _take(store, row, resume)
        fields = dict(status="running", started_at=row["started_at"] or now_utc(), error=None,
                      pid=os.getpid(), host=socket.gethostname(), finished_at=None,
                      heartbeat_at=now_utc(), git_commit=git_commit(), versions=library_versions())
        if not mine:   # a cancel that reached a worker-claimed run before it started still counts
            fields["cancel_requested"] = False
        store.update_run(run_id, **fields)
        folder.mkdir(parents=True, exist_ok=True)
        if resume and not (folder / _checkpoint_name()).exists():
            print(f"no checkpoint under {folder} on {socket.gethostname()}: training run {run_id} "
                  "from step 0", file=sys.stderr)
    from ..train import train   # it turns SIGTERM / Ctrl-C into a stop at the next step boundary
    return train(run, folder, StoreSink(store, run_id), resume=resume, progress=progress)


def _claimed_by_my_worker(row: dict) -> bool:
    worker = os.environ.get("DCPOC_WORKER_ID")
    return bool(worker) and row["worker_id"] == worker and row["status"] == "running"


def _take(store: Store, row: dict, resume: bool) -> None:
    """Check that this process may train the run and take it: a queued run is claimed from the
    queue, a failed or cancelled one (resume) is moved to running by compare-and-set, so a worker
    claiming it meanwhile (after a resume request) wins and this process stops."""
    run_id, status = row["id"], row["status"]
    if status == "queued":
        if store.claim_run(f"cli-{os.getpid()}", socket.gethostname(), run_id=run_id) is None:
            raise RunError(_not_claimable(store, run_id))
    elif status == "succeeded" and resume:
        raise RunError(f"run {run_id} already finished; start a new run instead of resuming it")
    elif status == "running" and _alive_elsewhere(row):
        raise RunError(f"run {run_id} is still running (pid {row['pid']} on {row['host']}); "
                       "cancel it first")
    elif status != "running" and not resume:
        raise RunError(f"run {run_id} is {status}; resume it with --resume, or retry it")
    elif status in ("failed", "cancelled"):
        # A fresh heartbeat, so that a reaper does not judge the run lost before it starts.
        if not store.transition_run(run_id, (status,), status="running", worker_id=None,
                                    host=socket.gethostname(), pid=os.getpid(),
                                    heartbeat_at=now_utc(), resume_requested=False):
            now = store.get_run(run_id)
            raise RunError(f"run {run_id} was taken meanwhile (it is now "
                           f"{now['status'] if now else 'deleted'}); see `python -m dcpoc runs`")


def _not_claimable(store: Store, run_id: str) -> str:
    """Why a queued run could not be claimed here: a worker took it, or it resumes elsewhere."""
    row = store.get_run(run_id)
    if row and row["status"] == "queued" and row["resume_requested"]:
        return (f"run {run_id} is queued to resume on host {row['host']}, where its checkpoint "
                "is; run a worker there")
    return f"run {run_id} was just taken by a worker; see `python -m dcpoc runs`"


def _checkpoint_name() -> str:
    from ..train import CHECKPOINT_NAME
    return CHECKPOINT_NAME


def _alive_elsewhere(row: dict) -> bool:
    """Whether the run's recorded process is alive on this host (another host: assume alive)."""
    if not row.get("pid") or row["pid"] == os.getpid():
        return False
    if row.get("host") and row["host"] != socket.gethostname():
        return True
    return _pid_alive(int(row["pid"]))


def _pid_alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie (an unreaped dead child still has a pid)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True   # no /proc (not Linux): trust kill
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


class _sigterm_as_interrupt:
    """SIGTERM stops training like Ctrl-C: checkpoint, then status cancelled."""

    def __enter__(self):
        try:
            self.previous = signal.signal(signal.SIGTERM, self._raise)
        except ValueError:      # not the main thread: leave signals alone
            self.previous = None
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)

    @staticmethod
    def _raise(signum, frame):
        raise KeyboardInterrupt


def checkpoint_path(run_id: str) -> Path:
    return run_dir(run_id) / _checkpoint_name()


def log_tail(run_id: str, lines: int = 40) -> str:
    """The last lines of runs/<id>/log.txt ('' if there is none on this machine)."""
    try:
        with open(run_dir(run_id) / "log.txt", "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 256 * lines))   # enough bytes for `lines` log lines
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.replace("\r", "\n").splitlines()[-lines:])


# ----------------------------------------------------------------------------- studies and the queue

def launch_study(store: Store, spec: StudySpec, *, start_worker: bool = True) -> list[str]:
    """Queue the study's first stage (ConfigError / CorpusError before anything is written) and
    start a worker unless one is alive; returns the run ids in queue order. With a sweep at the
    smallest size, the larger sizes are queued by advance_studies once the sweep has finished."""
    from ..data import load_corpus    # reads the corpus once: validation and fingerprint
    plan = plan_stages(spec)
    corpus = load_corpus(spec.corpus)
    name = validate_name(spec.name)
    config = {**dataclasses.asdict(spec), "later_stage": "waiting" if plan.later else "none"}
    if plan.later and store.get_study(name) is not None:
        raise ConfigError(f"study '{name}' exists; a sweep at the smallest size queues its larger "
                          "sizes later and needs a study of its own: choose a new name")
    store.ensure_study(name, spec.question, config=config)
    ids = [create_run(store, run, corpus_fingerprint=corpus.fingerprint, study=name)
           for run in plan.first]
    if start_worker:
        start_workers(store, spec.workers)
    return ids


def start_workers(store: Store, workers: int = 1) -> list[int]:
    """The workers a study asks for: one worker, or that many CPU slots; pids of those started."""
    if workers > 1:
        return ensure_cpu_workers(store, workers)
    pid = ensure_worker(store)
    return [pid] if pid else []


def study_stage(store: Store, name: str) -> dict:
    """Where a study with a sweep at its smallest size stands: state "none" (no later stage),
    "sweeping" (sweep runs still queued or running), "blocked" (the sweep ended without a finished
    run, succeeded or diverged, for every planned rate, seed and architecture: missing lists them;
    retry those runs), "ready" (best holds each architecture's best rate), or "queued" (the
    larger sizes were queued, with best)."""
    study = store.get_study(name)
    config = study["config"] if study else {}
    later = config.get("later_stage", "none")
    if later == "queued":
        return {"state": "queued", "best": config.get("carried_lr", {})}
    if later != "waiting":
        return {"state": "none"}
    spec = StudySpec(**{k: v for k, v in config.items() if k in StudySpec.__dataclass_fields__})
    smallest = ladder(spec.presets)[0]
    runs = store.list_runs(study=name)
    sweep = runs[runs["preset"].eq(smallest)] if not runs.empty else runs
    if sweep["status"].isin(["queued", "running"]).any():
        done = int(sweep["status"].isin(["succeeded", "failed", "cancelled"]).sum())
        return {"state": "sweeping", "spec": spec, "done": done, "total": len(sweep)}
    finished = sweep[sweep["status"].eq("succeeded") | sweep["diverged"].eq(True)]
    have = {(a, lr, int(seed)) for a, lr, seed in
            zip(finished["arch"], finished["config"].map(run_lr), finished["seed"])}
    missing = [f"{r.model.arch} lr {r.train.lr:g} seed {r.train.seed}"
               for r in plan_stages(spec).first
               if (r.model.arch, r.train.lr, r.train.seed) not in have]
    best = best_lrs(counted_runs(sweep), smallest)
    missing += [f"{a}: no run finished" for a in spec.archs if a not in best and not missing]
    if missing:
        return {"state": "blocked", "spec": spec, "missing": missing}
    fingerprints = sweep["corpus_fingerprint"].dropna()
    return {"state": "ready", "spec": spec, "best": best,
            "fingerprint": str(fingerprints.iloc[0]) if len(fingerprints) else ""}


def advance_studies(store: Store) -> list[str]:
    """Queue the larger sizes of every study whose sweep has finished, each architecture at its
    best swept rate; returns the new run ids. Safe from several workers at once: the study's stage
    flips from waiting to queued in the same transaction that inserts the runs. A study that
    cannot advance (an edited preset, a locked database) is reported and skipped."""
    return _advance(store)[0]


def _advance(store: Store) -> tuple[list[str], bool]:
    """advance_studies, and whether a study's later stage was still to come when looked at (sweep
    runs queued or running, or the sweep done): a worker that would otherwise stop keeps polling
    for it."""
    new_ids: list[str] = []
    waiting = False
    for name in _waiting_studies(store):
        try:
            stage = study_stage(store, name)
            waiting = waiting or stage["state"] in ("sweeping", "ready")
            if stage["state"] != "ready":
                continue
            runs = carry_lr(plan_stages(stage["spec"]).later, stage["best"])
            rows = [run_row(run, stage["fingerprint"]) for run in runs]
            ids = store.advance_study(name, "later_stage", "waiting",
                                      {"later_stage": "queued", "carried_lr": stage["best"]}, rows)
            for run_id, run in zip(ids or [], runs):
                write_run_files(store, run_id, run)
            new_ids += ids or []
        except (ConfigError, StoreError, ValueError, KeyError) as e:
            _say(f"study {name}: the larger sizes cannot be queued yet ({e})")
    return new_ids, waiting


def _waiting_studies(store: Store) -> list[str]:
    return [row.name for row in store.list_studies().itertuples()
            if isinstance(row.config, dict) and row.config.get("later_stage") == "waiting"]


def cancel_run(store: Store, run_id: str) -> str:
    """A queued run is cancelled at once; a running one gets the cancel flag (the loop stops
    within seconds; its worker kills it CANCEL_GRACE_S after). Returns the status now."""
    if store.transition_run(run_id, ("queued",), status="cancelled", finished_at=now_utc()):
        return "cancelled"
    row = _existing(store, run_id)
    if row["status"] == "running":
        store.request_cancel(run_id)
    return row["status"]


def retry_run(store: Store, run_id: str, *, start_worker: bool = True) -> str:
    """Queue a new run with the config and study of a failed or cancelled one; returns its id."""
    row = _existing(store, run_id)
    if row["status"] not in ("failed", "cancelled"):
        raise RunError(f"run {run_id} is {row['status']}; only a failed or cancelled run can be "
                       "retried")
    new_id = create_run(store, RunConfig.from_dict(row["config"]),
                        corpus_fingerprint=row["corpus_fingerprint"], study=row["study"])
    if start_worker:
        ensure_worker(store)
    return new_id


def resume_run(store: Store, run_id: str, *, start_worker: bool = True) -> None:
    """Queue a failed or cancelled run again, to continue from its last checkpoint (same run id;
    metrics after the checkpoint step are replaced, so none are duplicated or missing).

    Only a worker on the run's recorded host claims it (Store.claim_run): the checkpoint lies
    under that host's DCPOC_HOME. The worker started here serves it only if that host is this
    one; otherwise run `python -m dcpoc worker` on that host."""
    row = _existing(store, run_id)
    if row["status"] not in ("failed", "cancelled"):
        raise RunError(f"run {run_id} is {row['status']}; only a failed or cancelled run can be "
                       "resumed")
    path = row["checkpoint_path"]
    if not path or (row["host"] == socket.gethostname() and not Path(path).exists()):
        raise RunError(f"run {run_id} has no checkpoint to resume from (it stopped before its "
                       "first one); retry it instead")
    if not store.transition_run(run_id, ("failed", "cancelled"), status="queued",
                                resume_requested=True, cancel_requested=False, error=None,
                                finished_at=None, worker_id=None, pid=None):
        raise RunError(f"run {run_id} changed state meanwhile; look at it again")
    if start_worker:
        ensure_worker(store)


def reap_lost_runs(store: Store, stale_after_s: float = LOST_AFTER_S) -> list[str]:
    """Mark failed every running run without a heartbeat for stale_after_s (its process and worker
    died: killed, out of memory, machine rebooted), with its log tail; returns their ids. A run
    whose process is alive on this machine is left alone (a long compile of the first step)."""
    cutoff = now_utc() - timedelta(seconds=stale_after_s)
    here = socket.gethostname()
    lost = []
    for run in store.stale_runs(cutoff):
        if run["host"] == here and run["pid"] and _pid_alive(int(run["pid"])):
            continue
        last = run["heartbeat_at"] or run["started_at"] or run["created_at"]
        error = (f"lost: no heartbeat since {last:%Y-%m-%d %H:%M:%S} UTC (host {run['host']}, "
                 f"pid {run['pid']}); resume it from its last checkpoint")
        tail = log_tail(run["id"])
        if store.transition_run(run["id"], ("running",), stale_before=cutoff, status="failed",
                                finished_at=now_utc(), error=error + ("\n" + tail if tail else "")):
            lost.append(run["id"])
    _forget_dead_workers(store, max(stale_after_s, WORKER_STALE_S))
    return lost


def _existing(store: Store, run_id: str) -> dict:
    row = store.get_run(run_id)
    if row is None:
        raise RunError(f"no run with id '{run_id}': see `python -m dcpoc runs`")
    return row


# ----------------------------------------------------------------------------- workers

@dataclass
class WorkerInfo:
    id: str
    host: str
    device: str


def worker_alive(store: Store) -> bool:
    """Whether any worker (on any machine) has a fresh heartbeat."""
    return any(_worker_live(w) for w in store.list_workers().to_dict("records"))


def _worker_live(worker: dict, stale_s: float = WORKER_STALE_S) -> bool:
    fresh = now_utc() - worker["heartbeat_at"] < timedelta(seconds=stale_s)
    if worker["host"] == socket.gethostname():
        return fresh and _pid_alive(int(worker["pid"]))
    return fresh


def _forget_dead_workers(store: Store, stale_s: float) -> None:
    for worker in store.list_workers().to_dict("records"):
        if not _worker_live(worker, stale_s):
            store.remove_worker(worker["id"])


def ensure_worker(store: Store, device: str | None = None) -> int | None:
    """Start a detached `python -m dcpoc worker` (its own session, output to
    <DCPOC_HOME>/worker.log) unless a live worker is registered (for ``device``: on this host and
    that device); its pid, or None."""
    if device is None and worker_alive(store):
        return None
    if device is not None and any(w["host"] == socket.gethostname() and w["device"] == device
                                  and _worker_live(w) for w in store.list_workers().to_dict("records")):
        return None
    home = home_dir()
    home.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "dcpoc", "worker", *(["--device", device] if device else [])]
    with open(home / "worker.log", "ab") as log:
        proc = subprocess.Popen(command, env=_child_env(store), stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    return proc.pid


def ensure_cpu_workers(store: Store, n: int) -> list[int]:
    """n CPU worker slots on this host (devices cpu, cpu:1, ...), each started unless alive: runs
    with one thread each (the reference-cpu study) then train n at a time. Pids of those started."""
    if n < 1:
        raise ConfigError("--workers must be at least 1")
    started = [ensure_worker(store, "cpu" if k == 0 else f"cpu:{k}") for k in range(n)]
    return [pid for pid in started if pid]


def _child_env(store: Store, device: str = "auto", worker_id: str | None = None) -> dict[str, str]:
    """The environment of a worker or training process: same database and artifact folder (even
    when the caller's Store was opened with an explicit URL), the package importable."""
    env = {**os.environ, "DCPOC_DB": store.url, "DCPOC_HOME": str(home_dir()),
           "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    if device.startswith("cpu"):
        env["CUDA_VISIBLE_DEVICES"] = ""
    elif device.startswith("cuda:"):
        env["CUDA_VISIBLE_DEVICES"] = device.removeprefix("cuda:")
    if worker_id:
        env["DCPOC_WORKER_ID"] = worker_id
    return env


def train_command(run_id: str, *, resume: bool, nproc: int) -> list[str]:
    """The argument list that trains a claimed run: one process, or torchrun with nproc."""
    entry = ["-m", "dcpoc", "train", "--resume" if resume else "--run-id", run_id, "--no-progress"]
    if nproc > 1:
        return [sys.executable, "-m", "torch.distributed.run", "--standalone",
                "--nproc_per_node", str(nproc), *entry]
    return [sys.executable, *entry]


def run_worker(store: Store, *, forever: bool = False, poll_s: float = 1.0,
               device: str | None = None, lost_after_s: float = LOST_AFTER_S) -> int:
    """Claim queued runs one at a time and train each in its own process; returns how many were
    processed. Exits when the queue is empty unless forever. A second worker for the same host and
    device exits at once (returns 0): one device trains one run at a time.

    device: auto (every visible device), cpu, cpu:K (one more CPU slot), cuda:N or cuda:N,M
    (those GPUs, through CUDA_VISIBLE_DEVICES)."""
    device = device or "auto"
    if not DEVICE_PATTERN.fullmatch(device):
        raise ConfigError(f"worker device '{device}': use auto, cpu, cpu:K, cuda, cuda:N or "
                          "cuda:N,M")
    if poll_s <= 0 or lost_after_s <= 0:
        raise ConfigError("the poll interval and the lost-run timeout must be positive seconds")
    worker = _register(store, device)
    if worker is None:
        _say(f"a worker already serves device {device} on {socket.gethostname()}; exiting")
        return 0
    _say(f"worker {worker.id} (pid {os.getpid()}) serves device {device} on {worker.host}")
    processed = 0
    try:
        with _sigterm_as_interrupt():
            while _still_registered(store, worker):
                reap_lost_runs(store, lost_after_s)
                # waiting is judged as the stages are read, before the claim: another worker may
                # finish the sweep between them, and its later stage must not be missed
                _, waiting = _advance(store)
                run = store.claim_run(worker.id, worker.host)
                if run is not None:
                    _supervise(store, worker, run)
                    processed += 1
                elif forever or waiting:
                    _idle(store, worker, poll_s)
                else:
                    break
    except KeyboardInterrupt:
        _say(f"worker {worker.id} stopped")
    finally:
        store.remove_worker(worker.id)
    return processed


def _say(message: str) -> None:
    print(f"{now_utc():%Y-%m-%d %H:%M:%S} {message}", flush=True)


def _register(store: Store, device: str) -> WorkerInfo | None:
    host = socket.gethostname()
    for row in store.list_workers().to_dict("records"):
        if row["host"] == host and row["device"] == device and not _worker_live(row):
            store.remove_worker(row["id"])   # left behind by a worker that died
    worker = WorkerInfo(id="w" + uuid.uuid4().hex[:10], host=host, device=device)
    return worker if store.register_worker(worker.id, host, os.getpid(), device) else None


def _still_registered(store: Store, worker: WorkerInfo) -> bool:
    """Heartbeat; a worker whose row was removed (judged dead) registers again, or stops if
    another worker took its device meanwhile."""
    if store.worker_heartbeat(worker.id):
        return True
    return store.register_worker(worker.id, worker.host, os.getpid(), worker.device)


def _idle(store: Store, worker: WorkerInfo, poll_s: float) -> None:
    deadline = time.monotonic() + poll_s
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(left, WORKER_BEAT_S))
        store.worker_heartbeat(worker.id)


def _supervise(store: Store, worker: WorkerInfo, run: dict) -> None:
    """Train a claimed run in its own process group, log to runs/<id>/log.txt, and settle its
    status if the process ended without recording one."""
    run_id, resume = run["id"], bool(run["resume_requested"])
    try:
        nproc = RunConfig.from_dict(run["config"]).train.nproc
    except ConfigError as e:
        store.transition_run(run_id, ("running",), status="failed", finished_at=now_utc(),
                             error=f"bad stored config: {e}")
        return
    folder = run_dir(run_id)
    folder.mkdir(parents=True, exist_ok=True)
    _say(f"run {run_id}: {run['arch']} {run['preset']} seed {run['seed']}"
         f"{' (resume)' if resume else ''}{f', {nproc} processes' if nproc > 1 else ''}")
    command = train_command(run_id, resume=resume, nproc=nproc)
    with open(folder / "log.txt", "ab") as log:
        # Says where and how the run was started, even if the process dies before printing.
        log.write(f"{now_utc():%Y-%m-%d %H:%M:%S} worker {worker.id} on {worker.host} "
                  f"(device {worker.device}): {' '.join(command[1:])}\n".encode())
        log.flush()
        proc = subprocess.Popen(command,
                                env=_child_env(store, worker.device, worker.id),
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    store.update_run(run_id, pid=proc.pid, log_path=str(folder / "log.txt"))
    try:
        killed = _watch(store, worker, run_id, proc)
    except KeyboardInterrupt:   # the worker is being stopped: stop its run as a cancel would
        _stop(proc)
        store.transition_run(run_id, ("running", "cancelled"), status="cancelled",
                             finished_at=now_utc(), error="stopped with its worker; resume it")
        raise
    _settle(store, run_id, proc.returncode, killed)
    final = store.get_run(run_id)
    _say(f"run {run_id}: {final['status'] if final else 'deleted'}")


def _watch(store: Store, worker: WorkerInfo, run_id: str, proc: subprocess.Popen) -> str | None:
    """Wait for the run's process; heartbeat for it (start-up and a first compiled step can take
    longer than the loop's heartbeat period) and kill it if a cancel is not honoured in time.
    Returns why it was killed, or None."""
    cancel_seen, last_beat = None, 0.0
    while proc.poll() is None:
        now = time.monotonic()
        try:
            if now - last_beat >= WORKER_BEAT_S:
                store.heartbeat(run_id)
                store.worker_heartbeat(worker.id, run_id)
                last_beat = now
            if cancel_seen is None and store.cancel_requested(run_id):
                cancel_seen = now
        except UnknownRunError:
            _kill_tree(proc)
            return "the run was deleted"
        except StoreError as e:   # a busy or unreachable database: keep the run going
            _say(f"run {run_id}: {e}")
        if cancel_seen is not None and now - cancel_seen >= CANCEL_GRACE_S:
            _kill_tree(proc)
            return f"killed: it did not stop within {CANCEL_GRACE_S:g} s of the cancel request"
        time.sleep(WATCH_S)
    return None


def _settle(store: Store, run_id: str, returncode: int, killed: str | None) -> None:
    if killed:
        store.transition_run(run_id, ("running",), status="cancelled", finished_at=now_utc(),
                             error=killed)
        return
    row = store.get_run(run_id)
    if row is None:
        return
    # "cancelled" without a cancel request and a failing exit: torchrun stopped the other ranks
    # because one of them failed.
    died = row["status"] == "running" or (
        returncode != 0 and row["status"] == "cancelled" and not row["cancel_requested"])
    if died:
        how = (f"signal {signal.Signals(-returncode).name}" if returncode < 0
               else f"exit code {returncode}")
        tail = log_tail(run_id)
        store.transition_run(run_id, ("running", "cancelled"), status="failed",
                             finished_at=now_utc(),
                             error=f"the training process ended with {how} before the run "
                                   f"finished" + ("\n" + tail if tail else ""))


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM (training checkpoints and records 'cancelled'), then SIGKILL after the grace."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=CANCEL_GRACE_S)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        _kill_tree(proc)


def _kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL the run's process group and every descendant: torchrun starts each rank in a
    session of its own, out of reach of a group kill."""
    for pid in [proc.pid, *_descendants(proc.pid)]:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _descendants(pid: int) -> list[int]:
    """Every descendant process of pid (from /proc; none found elsewhere)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


__all__ = ["RunError", "StoreError", "StoreSink", "create_run", "execute_run", "run_dir",
           "checkpoint_path", "git_commit", "library_versions", "launch_study", "ensure_worker",
           "worker_alive", "run_worker", "cancel_run", "retry_run", "resume_run",
           "reap_lost_runs", "log_tail", "train_command", "home_dir"]
