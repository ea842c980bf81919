"""The worker registry: which workers are alive (on any machine sharing the database), one worker
per host and device, and starting detached workers on this host when none serves the queue."""
from __future__ import annotations

import hashlib
import os
import socket
import sys
import threading
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pandas as pd

from ..config import ConfigError
from .paths import home_dir, now_utc
from .processes import child_env, pid_alive, start_detached
from .status import Status
from .store import Store

WORKER_STALE_S = 15.0     # a worker silent this long is dead


@dataclass
class WorkerInfo:
    id: str
    host: str
    device: str


def worker_alive(store: Store) -> bool:
    """Whether any worker (on any machine) has a fresh heartbeat."""
    return any(worker_live(w) for w in store.list_workers().to_dict("records"))


def waiting_without_worker(store: Store, runs: pd.DataFrame | None = None) -> int:
    """How many runs (of ``runs``, default every run) are queued with no live worker anywhere to
    train them (SLURM runs are their jobs' to train). 0 while a worker is alive, or while the run
    queued last (created, or put back by resume, which stamps heartbeat_at) is younger than
    WORKER_STALE_S: the worker its launch or resume started may not have registered yet."""
    runs = store.list_runs() if runs is None else runs
    queued = runs[runs["status"].eq(Status.QUEUED) & ~runs["executor"].eq("slurm")]
    if queued.empty or worker_alive(store):
        return 0
    latest = queued[["created_at", "heartbeat_at"]].max(axis=1).max()
    if now_utc() - latest < timedelta(seconds=WORKER_STALE_S):
        return 0
    return len(queued)


def restart_workers(store: Store) -> list[int]:
    """After a worker died (killed, out of memory, the machine restarted): start the workers the
    studies with queued runs asked for (the most any asked for, at least one); pids started."""
    waiting = set(store.list_runs(status=Status.QUEUED)["study"])
    studies = store.list_studies()
    asked = [int((config or {}).get("workers", 1) or 1)
             for name, config in zip(studies["name"], studies["config"]) if name in waiting]
    return start_workers(store, max(asked, default=1))


def worker_live(worker: dict, stale_s: float = WORKER_STALE_S) -> bool:
    """Whether a worker row is fresh (and, on this host, its process is alive)."""
    fresh = now_utc() - worker["heartbeat_at"] < timedelta(seconds=stale_s)
    if worker["host"] == socket.gethostname():
        return fresh and pid_alive(int(worker["pid"]))
    return fresh


def forget_dead_workers(store: Store, stale_s: float) -> None:
    for worker in store.list_workers().to_dict("records"):
        if not worker_live(worker, stale_s):
            store.remove_worker(worker["id"])


def register(store: Store, device: str) -> WorkerInfo | None:
    """Register this process as the worker for (this host, device); None if a live one has it."""
    host = socket.gethostname()
    for row in store.list_workers().to_dict("records"):
        if row["host"] == host and row["device"] == device and not worker_live(row):
            store.remove_worker(row["id"])   # left behind by a worker that died
    worker = WorkerInfo(id="w" + uuid.uuid4().hex[:10], host=host, device=device)
    return worker if store.register_worker(worker.id, host, os.getpid(), device) else None


def still_registered(store: Store, worker: WorkerInfo) -> bool:
    """Heartbeat; a worker whose row was removed (judged dead) registers again, or stops if
    another worker took its device meanwhile."""
    if store.worker_heartbeat(worker.id):
        return True
    return store.register_worker(worker.id, worker.host, os.getpid(), worker.device)


def ensure_worker(store: Store, device: str | None = None) -> int | None:
    """Start a detached `python -m dcpoc worker` (its own session, output to
    <DCPOC_HOME>/worker.log) unless a live worker is registered (for ``device``: on this host and
    that device); its pid, or None."""
    if device is None and worker_alive(store):
        return None
    if device is not None and any(w["host"] == socket.gethostname() and w["device"] == device
                                  and worker_live(w) for w in store.list_workers().to_dict("records")):
        return None
    if _still_starting(store, device):
        return None
    home = home_dir()
    home.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "dcpoc", "worker", *(["--device", device] if device else [])]
    with open(home / "worker.log", "ab") as log:
        worker = start_detached(command, child_env(store.url), log)
    # reaped when it exits: the dashboard, which lives on, kept every worker it started as a zombie
    threading.Thread(target=worker.wait, daemon=True).start()
    _starting_marker(store, device).write_text(str(worker.pid))
    return worker.pid


def _starting_marker(store: Store, device: str | None) -> Path:
    """<DCPOC_HOME>/worker-starting-<database>-<device>.pid: the worker this host started last for
    that database and device, which registers only once torch has loaded (seconds)."""
    database = hashlib.sha1(str(store.url).encode()).hexdigest()[:8]
    return home_dir() / f"worker-starting-{database}-{(device or 'any').replace(':', '-')}.pid"


def _still_starting(store: Store, device: str | None) -> bool:
    """Whether a worker started here for this database and device in the last WORKER_STALE_S is
    still alive: a second launch right after a first one then leaves the queue to it, where it
    started a worker that found the slot taken and exited."""
    marker = _starting_marker(store, device)
    try:
        age = now_utc().timestamp() - marker.stat().st_mtime
        return age < WORKER_STALE_S and pid_alive(int(marker.read_text()))
    except (OSError, ValueError):
        return False


def ensure_cpu_workers(store: Store, n: int) -> list[int]:
    """n CPU worker slots on this host (devices cpu, cpu:1, ...), each started unless alive: runs
    with one thread each (the reference-cpu study) then train n at a time. Pids of those started."""
    if n < 1:
        raise ConfigError("--workers must be at least 1")
    started = [ensure_worker(store, "cpu" if k == 0 else f"cpu:{k}") for k in range(n)]
    return [pid for pid in started if pid]


def start_workers(store: Store, workers: int = 1) -> list[int]:
    """The workers a study asks for: one worker, or that many CPU slots; pids of those started."""
    if workers > 1:
        return ensure_cpu_workers(store, workers)
    pid = ensure_worker(store)
    return [pid] if pid else []
