"""The processes behind runs and workers: their environment, the training command (one process or
torchrun), detached starts in a session of their own, liveness checks and the process-tree kill
that backs up a cancel. Only the standard library: nothing here knows the database's tables."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO

from .paths import REPO_ROOT, home_dir

CANCEL_GRACE_S = 5.0      # after the cancel flag (or SIGTERM), a run's processes are killed


def child_env(db_url: str, device: str = "auto", worker_id: str | None = None) -> dict[str, str]:
    """The environment of a worker or training process: same database and artifact folder (even
    when the caller's Store was opened with an explicit URL), the package importable."""
    env = {**os.environ, "DCPOC_DB": db_url, "DCPOC_HOME": str(home_dir()),
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


def start_detached(command: list[str], env: dict[str, str], log: IO[bytes]) -> subprocess.Popen:
    """Start command in a session of its own (a process group to kill as one), stdin closed,
    stdout and stderr into log."""
    return subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)


def pid_alive(pid: int) -> bool:
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


class sigterm_as_interrupt:
    """SIGTERM stops a worker like Ctrl-C: it stops its run (checkpoint, then cancelled) and exits."""

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


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM (training checkpoints and records 'cancelled'), then SIGKILL after the grace."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=CANCEL_GRACE_S)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        kill_tree(proc)


def kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL the run's process group and every descendant: torchrun starts each rank in a
    session of its own, out of reach of a group kill."""
    for pid in [proc.pid, *descendants(proc.pid)]:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def descendants(pid: int) -> list[int]:
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
