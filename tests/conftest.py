"""Test setup. TRITON_INTERPRET must be set before any Triton kernel is defined, so it is set here,
at import time, on machines without CUDA; torch runs one thread so that concurrent test processes do
not fight over the two cores."""
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

os.environ.setdefault("OMP_NUM_THREADS", "1")
if shutil.which("nvidia-smi") is None:
    os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest  # noqa: E402
import pandas as pd  # noqa: E402
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


def store_two_size_study(store, study: str) -> None:
    """Finished CPU runs of ``study`` at two sizes and two seeds, built without training: DCFormer
    reaches the loss Transformer++ gets at twice its compute, at 0.8 of its tokens/s (a multiplier
    and a speed ratio, so a decision projects a cost)."""
    from datetime import datetime, timezone
    for preset, params, tf_loss in (("tiny", 200_000, 3.0), ("cpu-xs", 800_000, 2.5)):
        for seed, noise in ((1, 0.0), (2, 0.01)):
            for arch, loss, speed in (("transformer", tf_loss, 1000.0),
                                      ("dcformer", tf_loss - 0.36, 800.0)):
                run_id = store.create_run(arch=arch, preset=preset, config={"train": {"nproc": 1}},
                                          seed=seed, corpus_spec="pydoc", corpus_fingerprint="fp",
                                          study=study, status="succeeded", total_steps=20)
                store.update_run(run_id, final_val_loss=loss + noise, tokens_seen=1_000_000,
                                 flops_per_token=6.0 * params, n_params=params, tokens_per_s=speed,
                                 device="cpu", wall_s=1e6 / speed, diverged=False,
                                 finished_at=datetime.now(timezone.utc))


def store_two_budget_study(store, study: str) -> None:
    """Finished CPU runs of ``study``, seeds 1 and 2, built without training: tiny at 20 and at 60
    steps (a study relaunched with other --steps) and cpu-xs at 20, each with validation
    evaluations during training (every 5 steps) and a final one, so that both the equal-token and
    the equal-cost comparisons have two rows at tiny."""
    from datetime import datetime, timezone
    for preset, params, steps, tf_loss in (("tiny", 200_000, 20, 3.0), ("tiny", 200_000, 60, 2.6),
                                           ("cpu-xs", 800_000, 20, 2.5)):
        for seed, noise in ((1, 0.0), (2, 0.01)):
            for arch, loss, speed in (("transformer", tf_loss, 1000.0),
                                      ("dcformer", tf_loss - 0.05 - noise, 800.0)):
                run_id = store.create_run(arch=arch, preset=preset, config={"train": {"nproc": 1}},
                                          seed=seed, corpus_spec="pydoc", corpus_fingerprint="fp",
                                          study=study, status="succeeded", total_steps=steps)
                tokens = steps * 256
                store.update_run(run_id, final_val_loss=loss + noise, tokens_seen=tokens,
                                 flops_per_token=6.0 * params, n_params=params, tokens_per_s=speed,
                                 device="cpu", wall_s=tokens / speed, diverged=False,
                                 finished_at=datetime.now(timezone.utc))
                store.log_metrics(run_id, [
                    {"step": step, "key": "val_loss", "value": loss + noise + 0.5 * (1 - step / steps),
                     "tokens": step * 256, "wall_s": step * 256 / speed}
                    for step in [*range(5, steps, 5), steps]])   # the last: the final evaluation


# -- run frames with answers worked out by hand (tests of the decision) ------------------------

# Transformer++ follows L = 1.5 + 40 C^-0.1 exactly; sizes are (params, tokens)
E, A, ALPHA = 1.5, 40.0, 0.1
SIZES = {"s1": (1e6, 1e8), "s2": (4e6, 2e8), "s3": (1.6e7, 4e8), "s4": (6.4e7, 8e8)}


def tf_loss(compute):
    return E + A * compute ** -ALPHA


def run(arch, preset, seed, loss, *, status="succeeded", fingerprint="fp", speed=1000.0,
        device="NVIDIA H100", diverged=False, fpt=None, tokens=None):
    params, toks = SIZES[preset]
    return {"id": f"{arch}-{preset}-{seed}-{fingerprint}", "study": "st", "arch": arch,
            "preset": preset, "status": status, "seed": seed, "final_val_loss": loss,
            "tokens_seen": tokens or toks, "flops_per_token": fpt or 6 * params, "n_params": params,
            "tokens_per_s": speed, "diverged": diverged, "corpus_fingerprint": fingerprint,
            "corpus_spec": "pydoc", "device": device, "config": {"train": {"nproc": 1}},
            "wall_s": toks / speed, "cost_usd": 1.0, "finished_at": pd.Timestamp("2026-01-01"),
            "created_at": pd.Timestamp("2026-01-01")}


def ladder(multiplier=2.0, speed_ratio=0.8, seeds=(1, 2, 3), noise=(0.0, 0.002, -0.002),
           presets=tuple(SIZES)):
    """A study where DCFormer reaches the loss Transformer++ gets from multiplier x its compute."""
    rows = []
    for preset in presets:
        params, tokens = SIZES[preset]
        compute = 6 * params * tokens
        for seed, eps in zip(seeds, noise):
            rows.append(run("transformer", preset, seed, tf_loss(compute) + eps))
            rows.append(run("dcformer", preset, seed, tf_loss(multiplier * compute) + eps,
                            speed=1000.0 * speed_ratio))
    return pd.DataFrame(rows)


# -- PostgreSQL: a fresh schema per test ------------------------------------------------------

PG_URL = os.environ.get("DCPOC_TEST_PG_URL")
needs_pg = pytest.mark.skipif(not PG_URL, reason="DCPOC_TEST_PG_URL is not set (a SQLAlchemy URL "
                              "of a PostgreSQL database; .ci/run starts a server and sets it)")


@pytest.fixture
def pg_url():
    """The test database URL with search_path set to a fresh schema."""
    from sqlalchemy import create_engine, text
    schema = "t_" + uuid.uuid4().hex[:12]
    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()
