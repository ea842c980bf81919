"""The command line as a user meets it: real subprocesses, a real database, one-line errors."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from dcpoc.runs.store import Store

from conftest import REPO_ROOT, home_env, run_cli


@pytest.fixture(scope="module")
def one_run_home(tmp_path_factory):
    """A home whose database holds one finished run (trained once for the module)."""
    home = tmp_path_factory.mktemp("cli") / "home"
    result = run_cli("train", "--arch", "transformer", "--preset", "tiny", "--steps", "5", "--no-progress",
                     env=home_env(home))
    assert result.returncode == 0, result.stderr
    return home


@pytest.fixture
def populated_db(dcpoc_home, one_run_home):
    """This test's own copy of one_run_home, to check bad input leaves its database intact."""
    shutil.copytree(one_run_home, dcpoc_home)
    return Store().list_runs()


def _assert_one_line_error(result, *fragments):
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_train_then_runs_lists_the_summary(populated_db):
    result = run_cli("runs", "--json")
    assert result.returncode == 0
    rows = json.loads(result.stdout)
    assert len(rows) == 1
    row = rows[0]
    for column in ("val_loss", "perplexity", "bits_per_byte", "tokens_per_s", "peak_mem_mb", "wall_s", "cost_usd"):
        assert row[column] is not None and row[column] > 0, column
    assert row["status"] == "succeeded" and row["arch"] == "transformer"
    assert row["variant"] == "transformer-qknorm" and row["job"] == ""   # a local run has no job
    table = run_cli("runs")
    assert table.returncode == 0 and row["id"] in table.stdout and "bits_per_byte" in table.stdout
    assert "no run matches these filters" in run_cli("runs", "--study", "nosuch").stdout


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("case", ["preset", "set-key", "set-type", "heads", "zero-heads", "vocab", "gpu-type",
                                  "empty", "binary", "missing", "too-small", "no-cuda", "resume-unknown",
                                  "no-arch", "beta1", "beta2", "adam-eps", "seed-overflow", "home", "study-home",
                                  "report-out", "report-out-dir", "temperature", "top-k", "nproc", "status"])
def test_bad_input_exits_with_one_line_and_keeps_the_database(populated_db, tmp_path, case):
    base = ["train", "--arch", "dcformer", "--preset", "tiny", "--steps", "3", "--no-progress"]
    empty = _write(tmp_path / "empty.txt", b"")
    binary = _write(tmp_path / "blob.txt", bytes(range(256)) * 4)
    small = _write(tmp_path / "small.txt", b"only forty-four bytes of text in this file!")
    args, fragments = {
        "preset": (["train", "--arch", "dcformer", "--preset", "huge"], ["unknown preset 'huge'"]),
        "set-key": (base + ["--set", "n_layers=3"], ["unknown key 'n_layers'"]),
        "set-type": (base + ["--set", "lr=fast"], ["lr=fast", "float"]),
        "heads": (base + ["--set", "n_embd=33"], ["divisible by n_head"]),
        "zero-heads": (base + ["--set", "n_head=0"], ["n_head (0) must be between 1"]),
        "vocab": (base + ["--set", "vocab_size=100"], ["vocab_size", "256"]),
        "gpu-type": (base + ["--set", "gpu_type=v100"], ["gpu_type 'v100'"]),
        "too-small": (base + ["--corpus", f"text:{small}"], ["small.txt", "seq_len"]),
        "no-cuda": (base + ["--device", "cuda"], ["no CUDA GPU"]),
        "empty": (base + ["--corpus", f"text:{empty}"], [str(empty), "empty"]),
        "binary": (base + ["--corpus", f"text:{binary}"], [str(binary), "UTF-8"]),
        "missing": (base + ["--corpus", "text:/no/such/file.txt"], ["/no/such/file.txt"]),
        "resume-unknown": (["train", "--resume", "rdeadbeef00"], ["rdeadbeef00"]),
        "no-arch": (["train", "--preset", "tiny"], ["--arch"]),
        "beta1": (base + ["--set", "beta1=1.5"], ["beta1 (1.5)", "[0, 1)"]),
        "beta2": (base + ["--set", "beta2=1.0"], ["beta2 (1.0)"]),
        "adam-eps": (base + ["--set", "adam_eps=-1"], ["adam_eps (-1.0)", "in (0, 1)"]),
        "seed-overflow": (base + ["--seed", "99999999999999999999"], ["seed", "2^63"]),
        "home": (base, ["DCPOC_HOME", "cannot be created"]),
        "study-home": (["study", "launch", "--name", "h", "--presets", "tiny", "--steps", "2"],
                       ["DCPOC_HOME", "cannot be created"]),
        "report-out": (["report", "--study", "s", "--out", str(tmp_path / "no" / "dir" / "r.md")],
                       ["cannot write", "--out"]),
        "report-out-dir": (["report", "--study", "s", "--out", str(tmp_path)], ["cannot write"]),
        "temperature": (["generate", "--run", populated_db.iloc[0]["id"], "--prompt", "a", "--temperature", "nan"],
                        ["--temperature"]),
        "nproc": (base + ["--set", "nproc=2"], ["nproc=2", "study launch --nproc 2"]),
        "status": (["runs", "--status", "bogus"], ["--status", "invalid choice"]),
        "top-k": (["generate", "--run", populated_db.iloc[0]["id"], "--prompt", "a", "--top-k", "-3"], ["--top-k"]),
    }[case]
    env = {"DCPOC_HOME": str(_write(tmp_path / "a-file", b"x") / "home")} if case.endswith("home") else None
    if case.startswith("report"):
        Store().ensure_study("s")
    _assert_one_line_error(run_cli(*args, env=env), *fragments)
    after = Store().list_runs()
    assert list(after["id"]) == list(populated_db["id"])
    assert after.iloc[0]["final_val_loss"] == populated_db.iloc[0]["final_val_loss"]
    assert Store().get_study("h") is None                  # a refused launch leaves no study behind


def test_unwritable_database_location(tmp_path, monkeypatch):
    blocker = _write(tmp_path / "a-file", b"not a folder")
    monkeypatch.setenv("DCPOC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DCPOC_DB", f"sqlite:///{blocker}/dcpoc.db")
    _assert_one_line_error(run_cli("train", "--arch", "dcformer", "--preset", "tiny", "--steps", "2"),
                           "cannot open database")
    _assert_one_line_error(run_cli("runs"), "cannot open database")
    assert blocker.read_bytes() == b"not a folder"


def test_database_that_is_not_sqlite(tmp_path, monkeypatch):
    fake = _write(tmp_path / "notes.db", b"my notes, not a database\n" * 100)
    monkeypatch.setenv("DCPOC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DCPOC_DB", f"sqlite:///{fake}")
    _assert_one_line_error(run_cli("runs"), "not a dcpoc database")
    assert fake.read_bytes() == b"my notes, not a database\n" * 100


def test_another_programs_sqlite_file_is_not_taken_over(tmp_path, monkeypatch):
    import sqlite3
    theirs = tmp_path / "shop.db"
    with sqlite3.connect(theirs) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    monkeypatch.setenv("DCPOC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DCPOC_DB", f"sqlite:///{theirs}")
    _assert_one_line_error(run_cli("runs"), "not a dcpoc database", "customers")
    with sqlite3.connect(theirs) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert tables == {"customers"} and journal == "delete"      # not even switched to WAL


def test_help_lists_commands_and_set_keys():
    result = run_cli("train", "--help")
    assert result.returncode == 0 and "model.dc_rank" in result.stdout and "--resume" in result.stdout


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite:///:memory:"])
def test_an_in_memory_database_is_refused(url, monkeypatch, tmp_path):
    monkeypatch.setenv("DCPOC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DCPOC_DB", url)
    _assert_one_line_error(run_cli("train", "--arch", "transformer", "--preset", "tiny", "--steps", "2"),
                           "in-memory", "DCPOC_DB")


def test_a_closed_pipe_ends_quietly(populated_db):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}   # buffered, as usual
    listing = subprocess.Popen([sys.executable, "-m", "dcpoc", "runs"], cwd=REPO_ROOT,
                               env={**env, "PYTHONPATH": str(REPO_ROOT)},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    listing.stdout.close()                  # the reader went away, as `| head` does
    assert listing.wait(timeout=120) == 0
    assert "error" not in listing.stderr.read().decode().lower()


@pytest.mark.parametrize("after_s", [0.3, 6.0])
def test_ctrl_c_at_any_moment_is_one_word_not_a_traceback(dcpoc_home, after_s):
    """A Ctrl-C while the command still imported torch printed a KeyboardInterrupt traceback;
    later it said 'interrupted'. Both moments: early (importing) and late (training)."""
    import signal
    import time
    command = [sys.executable, "-m", "dcpoc", "train", "--arch", "dcformer", "--preset", "tiny",
               "--steps", "100000", "--no-progress"]
    # as from a terminal: a background job (CI starts the suite as one) inherits SIGINT ignored,
    # and Python then never raises KeyboardInterrupt
    started = subprocess.Popen(command, cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(after_s)
    started.send_signal(signal.SIGINT)
    _, err = started.communicate(timeout=120)
    assert started.returncode == 130 and "Traceback" not in err and "interrupted" in err, err[-800:]


def test_a_ctrl_c_that_cut_an_import_short_is_still_one_word(monkeypatch, capsys):
    """CI caught it: a Ctrl-C while `train` imported SQLAlchemy left dcpoc.runs half-loaded, and
    main's `except _user_errors()` (which imports it) raised ImportError over the interrupt, with a
    traceback. The interrupt is now handled before anything else is looked up."""
    from dcpoc import cli

    def interrupted(args):
        raise KeyboardInterrupt

    def half_loaded():
        raise ImportError("cannot import name 'RunError' from 'dcpoc.runs'")
    monkeypatch.setattr(cli, "cmd_runs", interrupted)
    monkeypatch.setattr(cli, "_user_errors", half_loaded)
    assert cli.main(["runs"]) == 130 and capsys.readouterr().err == "interrupted\n"


def test_cancel_from_the_command_line_and_why_a_run_failed(dcpoc_home):
    """'cancel it first' named no command; `runs` never showed why a run failed."""
    import json as json_
    from dcpoc.config import make_config
    from dcpoc.runs import create_run
    from dcpoc.runs.store import Store
    store = Store()
    queued = create_run(store, make_config("dcformer", "tiny"))
    failed = create_run(store, make_config("transformer", "tiny"))
    store.update_run(failed, status="failed", error="training diverged at step 3\nlog tail ...")
    done = run_cli("cancel", queued, failed)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"run {queued}: cancelled",
                                        f"run {failed}: already failed; nothing to cancel"]
    assert store.get_run(queued)["status"] == "cancelled"
    listed = {r["id"]: r for r in json_.loads(run_cli("runs", "--json").stdout)}
    assert listed[failed]["error"] == "training diverged at step 3" and listed[queued]["error"] is None
    unknown = run_cli("cancel", "nope")
    assert unknown.returncode == 2 and unknown.stderr.strip() == \
        "error: no run with id 'nope': see `python -m dcpoc runs`"
