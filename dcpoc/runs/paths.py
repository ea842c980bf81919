"""Where a run's things live and when: the artifact folder ($DCPOC_HOME, the one reading of it that
the database's default URL shares), each run's folder, checkpoint and log, the UTC clock every
timestamp uses, and the timestamped lines a worker prints."""
from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def home_dir() -> Path:
    """$DCPOC_HOME with ~ expanded (unset or empty: ./runs), as an absolute path: worker and
    training subprocesses started from another directory find the same folder."""
    return Path(os.environ.get("DCPOC_HOME") or "runs").expanduser().resolve()


def writable_home() -> Path:
    """home_dir(), created if needed; a one-line ConfigError when it cannot be created or written
    (a run's checkpoint and log go there): checked before a run's row is written, else the row
    would stay queued or running with nowhere to train."""
    from ..config import ConfigError
    home = home_dir()
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"DCPOC_HOME {home} cannot be created ({e.strerror}); set DCPOC_HOME to a "
                         "writable folder") from e
    if not os.access(home, os.W_OK | os.X_OK):
        raise ConfigError(f"DCPOC_HOME {home} is not writable; set DCPOC_HOME to a writable folder "
                         "(runs keep their checkpoints and logs there)")
    return home


def run_dir(run_id: str) -> Path:
    return home_dir() / run_id


CHECKPOINT_NAME = "checkpoint.pt"    # in the run's folder


def checkpoint_path(run_id: str) -> Path:
    return run_dir(run_id) / CHECKPOINT_NAME


def found_checkpoint(run: dict) -> Path | None:
    """The run's checkpoint on this machine: the path its row records, else the one in its folder
    here; None when neither exists (not trained yet, or trained and kept on another machine)."""
    for path in (run.get("checkpoint_path"), checkpoint_path(run["id"])):
        if path and Path(path).exists():
            return Path(path)
    return None


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


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def say(message: str) -> None:
    """One timestamped line on stdout (a detached worker's stdout is <DCPOC_HOME>/worker.log)."""
    print(f"{now_utc():%Y-%m-%d %H:%M:%S} {message}", flush=True)
