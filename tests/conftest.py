"""Test setup. TRITON_INTERPRET must be set before any Triton kernel is defined, so it is set here,
at import time, on machines without CUDA; torch runs one thread so that concurrent test processes do
not fight over the two cores."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
if shutil.which("nvidia-smi") is None:
    os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)
REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def dcpoc_home(tmp_path, monkeypatch):
    """A fresh artifact folder and SQLite database for one test (also seen by subprocesses)."""
    home = tmp_path / "home"
    monkeypatch.setenv("DCPOC_HOME", str(home))
    monkeypatch.setenv("DCPOC_DB", f"sqlite:///{home / 'dcpoc.db'}")
    return home


def run_cli(*args: str, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    """Run `python -m dcpoc ARGS` as a real subprocess in the repository root."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run([sys.executable, "-m", "dcpoc", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout, **kwargs)
