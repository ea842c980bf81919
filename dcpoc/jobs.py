"""Run lifecycle outside the UI: create the run row, record training through the store, resume.

The training loop reports to a StoreSink; this module is the only place that joins train and store.
"""
from __future__ import annotations

import os
import platform
import signal
import socket
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from . import __version__, costs
from .config import RunConfig
from .store import Store, StoreError
from .train import CHECKPOINT_NAME, train

REPO_ROOT = Path(__file__).resolve().parent.parent


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
    """Sink of the training loop that writes to the store in small batched transactions."""

    def __init__(self, store: Store, run_id: str):
        self.store, self.run_id = store, run_id

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
        prices = self.store.get_setting("prices", None)
        run = self.store.get_run(self.run_id)
        kind = run["config"]["train"].get("gpu_type", "auto") if run else "auto"
        cost = costs.run_cost_usd(summary["wall_s"], summary["device"], prices=prices, kind=kind)
        self.store.update_run(
            self.run_id, status=status, error=error, finished_at=now_utc(), step=summary["step"],
            tokens_seen=summary["tokens_seen"], wall_s=summary["wall_s"],
            final_val_loss=summary["final_val_loss"], diverged=summary["diverged"],
            tokens_per_s=summary["tokens_per_s"],
            peak_mem_bytes=summary["peak_mem_bytes"], mfu=summary["mfu"], cost_usd=cost)


def create_run(store: Store, run: RunConfig, *, corpus_fingerprint: str = "",
               study: str | None = None, status: str = "queued") -> str:
    """Write the run row and runs/<id>/config.json; returns the run id."""
    run_id = store.create_run(
        arch=run.model.arch, preset=run.preset, config=run.to_dict(), seed=run.train.seed,
        corpus_spec=run.train.corpus, corpus_fingerprint=corpus_fingerprint, study=study,
        status=status, total_steps=run.train.steps, git_commit=git_commit(),
        versions=library_versions())
    folder = run_dir(run_id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(run.to_json())
    store.update_run(run_id, log_path=str(folder / "log.txt"))
    return run_id


def execute_run(store: Store, run_id: str, *, resume: bool = False, progress: bool = False) -> dict:
    """Train run_id in this process (from its checkpoint when resume), recording into the store."""
    row = store.get_run(run_id)
    if row is None:
        raise RunError(f"no run with id '{run_id}': see `python -m dcpoc runs`")
    if resume and row["status"] == "succeeded":
        raise RunError(f"run {run_id} already finished; start a new run instead of resuming it")
    if resume and row["status"] == "running" and _alive_elsewhere(row):
        raise RunError(f"run {run_id} is still running (pid {row['pid']}); cancel it before resuming")
    run = RunConfig.from_dict(row["config"])
    store.update_run(run_id, status="running", started_at=row["started_at"] or now_utc(), error=None,
                     cancel_requested=False, pid=os.getpid(), host=socket.gethostname(),
                     finished_at=None)
    folder = run_dir(run_id)
    folder.mkdir(parents=True, exist_ok=True)
    with _sigterm_as_interrupt():
        return train(run, folder, StoreSink(store, run_id), resume=resume, progress=progress)


def _alive_elsewhere(row: dict) -> bool:
    """Whether the run's recorded process is alive on this host (another host: assume alive)."""
    if not row.get("pid") or row["pid"] == os.getpid():
        return False
    if row.get("host") and row["host"] != socket.gethostname():
        return True
    try:
        os.kill(int(row["pid"]), 0)
    except OSError:
        return False
    return True


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
    return run_dir(run_id) / CHECKPOINT_NAME


__all__ = ["RunError", "StoreError", "StoreSink", "create_run", "execute_run", "run_dir",
           "checkpoint_path", "git_commit", "library_versions"]
