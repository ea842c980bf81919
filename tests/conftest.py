"""Test setup. TRITON_INTERPRET must be set before any Triton kernel is defined, so it is set here,
at import time, on machines without CUDA; torch runs one thread so that concurrent test processes do
not fight over the two cores."""
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

os.environ.setdefault("OMP_NUM_THREADS", "1")
if shutil.which("nvidia-smi") is None:
    os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)
REPO_ROOT = Path(__file__).resolve().parent.parent
if TYPE_CHECKING:
    from streamlit.testing.v1 import AppTest


@pytest.fixture
def dcpoc_home(tmp_path, monkeypatch):
    """A fresh artifact folder and SQLite database for one test (also seen by subprocesses)."""
    home = tmp_path / "home"
    monkeypatch.setenv("DCPOC_HOME", str(home))
    monkeypatch.setenv("DCPOC_DB", f"sqlite:///{home / 'dcpoc.db'}")
    return home


def home_env(home: Path) -> dict[str, str]:
    """DCPOC_HOME and DCPOC_DB for an artifact folder with its own SQLite file."""
    return {"DCPOC_HOME": str(home), "DCPOC_DB": f"sqlite:///{home / 'dcpoc.db'}"}


def run_cli(*args: str, timeout: float = 300, env: dict[str, str] | None = None,
            **kwargs) -> subprocess.CompletedProcess:
    """Run `python -m dcpoc ARGS` as a real subprocess in the repository root (env: extra variables)."""
    env = {**os.environ, **(env or {}), "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run([sys.executable, "-m", "dcpoc", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout, **kwargs)


def train_tiny_runs(home: Path, study: str, seeds: tuple[str, ...] = ("1",), steps: int = 20) -> Path:
    """Real tiny training runs (both architectures x seeds) into home's database, for tests that
    need finished runs (session or module fixtures, which cannot use monkeypatch)."""
    for arch in ("transformer", "dcformer"):
        for seed in seeds:
            done = run_cli("train", "--arch", arch, "--preset", "tiny", "--steps", str(steps),
                           "--seed", seed, "--study", study, "--no-progress", env=home_env(home))
            assert done.returncode == 0, done.stderr
    return home


def skip_without_pdf_tools() -> None:
    """PDF tests need a Japanese TrueType font and poppler-utils (scripts/system-deps.sh installs
    both on Debian); elsewhere they are skipped with the reason."""
    from dcpoc.report import ReportError, cjk_font
    try:
        cjk_font()
    except ReportError:
        pytest.skip("no Japanese TrueType font: apt-get install fonts-ipaexfont-gothic")
    if shutil.which("pdftotext") is None:
        pytest.skip("needs poppler-utils (pdftotext, pdftoppm)")


# Real tiny runs shared by the page, decision and report tests (trained once per session).
@pytest.fixture(scope="session")
def trained_home(tmp_path_factory):
    """Two real tiny runs per architecture in study s1 (trained once for the session)."""
    return train_tiny_runs(tmp_path_factory.mktemp("trained") / "home", "s1", seeds=("1", "2"))


@pytest.fixture
def trained(trained_home, monkeypatch):
    """The trained database as this test's DCPOC_HOME / DCPOC_DB."""
    monkeypatch.setenv("DCPOC_HOME", str(trained_home))
    monkeypatch.setenv("DCPOC_DB", f"sqlite:///{trained_home / 'dcpoc.db'}")
    from dcpoc.runs.store import Store
    return Store()


@pytest.fixture
def trained_copy(trained_home, tmp_path, monkeypatch):
    """A private copy of the trained database, for tests that add runs to it."""
    home = tmp_path / "home"
    shutil.copytree(trained_home, home)
    monkeypatch.setenv("DCPOC_HOME", str(home))
    monkeypatch.setenv("DCPOC_DB", f"sqlite:///{home / 'dcpoc.db'}")
    from dcpoc.runs.store import Store
    return Store()


# ----------------------------------------------------------------------------- shared helpers
def start_worker(*args: str) -> subprocess.Popen:
    """`python -m dcpoc worker ARGS` as a real subprocess (its stdout is the claims it made)."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen([sys.executable, "-m", "dcpoc", "worker", *args], cwd=REPO_ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for(predicate, timeout: float = 60.0, every: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("timed out waiting")


@pytest.fixture
def fresh_caches(monkeypatch):
    """Cached frames live for the whole test process: start every test without them."""
    monkeypatch.delenv("DCPOC_PASSWORD", raising=False)
    monkeypatch.delenv("DCPOC_DATA_DIRS", raising=False)
    import streamlit as st
    st.cache_data.clear()


def open_page(page: str, lang: str = "en", timeout: float = 60) -> "AppTest":
    """A page of the dashboard through AppTest, entered from the home page as a person would."""
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=timeout)
    at.query_params["lang"] = lang
    at.run()
    if page != "app.py":
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def by_label(widgets, label: str):
    found = [w for w in widgets if w.label == label]
    assert found, f"no widget labelled {label!r} among {[w.label for w in widgets]}"
    return found[0]


def errors(at: "AppTest") -> list[str]:
    return [e.value for e in at.error]
