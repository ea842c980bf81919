"""dcpoc.runs' Store against a real SQLite file: round trips, PRAGMAs, concurrent writers, and the errors
a user can cause."""

from __future__ import annotations

import math
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

from dcpoc.runs import Store, StoreError, UnknownRunError, default_url, new_run_id

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'dcpoc.db'}"


@pytest.fixture
def store(url: str):
    s = Store(url)
    yield s
    s.dispose()


def _run(store: Store, **kw) -> str:
    args = dict(arch="dcformer", preset="tiny", config={"d_model": 64, "lr": 1e-3}, seed=0,
                corpus_spec="builtin:tiny")
    args.update(kw)
    return store.create_run(**args)


def _one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert "\n" not in msg and msg
    return msg


# -- round trips ---------------------------------------------------------------------------------

def test_default_url_and_run_id(tmp_path, monkeypatch):
    monkeypatch.setenv("DCPOC_DB", "sqlite:///elsewhere.db")
    assert default_url() == "sqlite:///elsewhere.db"
    monkeypatch.delenv("DCPOC_DB")
    monkeypatch.setenv("DCPOC_HOME", str(tmp_path / "home"))
    assert default_url() == f"sqlite:///{tmp_path / 'home' / 'dcpoc.db'}"
    s = Store()  # creates the missing home folder
    assert (tmp_path / "home" / "dcpoc.db").is_file()
    s.dispose()
    ids = {new_run_id() for _ in range(100)}
    assert len(ids) == 100 and all(i.startswith("r") and len(i) == 11 for i in ids)


def test_studies(store):
    sid = store.ensure_study("scaling", question="Is DCFormer cheaper?", config={"seeds": 3})
    assert store.ensure_study("scaling", question="ignored") == sid
    study = store.get_study("scaling")
    assert study["question"] == "Is DCFormer cheaper?" and study["config"] == {"seeds": 3}
    assert study["created_at"].tzinfo is not None
    assert store.get_study("nope") is None
    _run(store, study="scaling")
    frame = store.list_studies()
    assert frame[["name", "n_runs"]].values.tolist() == [["scaling", 1]]


def test_a_study_and_its_runs_are_queued_together_or_not_at_all(store):
    row = dict(arch="dcformer", preset="tiny", config={"preset": "tiny"}, seed=1, corpus_spec="builtin")
    ids = store.queue_study("ladder", "why?", {"seeds": [1, 2]}, [row, {**row, "seed": 2}])
    assert store.list_studies()[["name", "n_runs"]].values.tolist() == [["ladder", 2]]
    assert set(store.list_runs()["id"]) == set(ids) and set(store.list_runs()["status"]) == {"queued"}
    # the second run's id clashes with the first's: the database refuses it, and the new study
    # and its first run go too (a launch that failed half-way had left both, the run queued)
    with pytest.raises(StoreError, match="UNIQUE"):
        store.queue_study("half", "", {}, [{**row, "run_id": "rclash00001"}, {**row, "run_id": "rclash00001"}])
    assert store.get_study("half") is None and len(store.list_runs()) == 2
    assert store.queue_study("ladder", "ignored", {}, [row]) and store.get_study("ladder")["question"] == "why?"


def test_run_create_get_update_list(store):
    before = datetime.now(timezone.utc)
    a = _run(store, study="s1", arch="transformer", versions={"torch": "2.5"},
             n_params=6_000_000_000, git_commit="abc123", total_steps=100)
    b = _run(store, study="s2", seed=1, run_id="rfixed00001")
    assert b == "rfixed00001"
    run = store.get_run(a)
    assert run["study"] == "s1" and run["arch"] == "transformer" and run["status"] == "queued"
    assert run["config"] == {"d_model": 64, "lr": 1e-3} and run["versions"] == {"torch": "2.5"}
    assert run["n_params"] == 6_000_000_000  # beyond 32 bits
    assert run["total_steps"] == 100 and run["step"] == 0 and run["cancel_requested"] is False
    assert before <= run["created_at"] <= datetime.now(timezone.utc)

    started = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=9)))
    store.update_run(a, status="running", started_at=started, config={"d_model": 128}, pid=42,
                     tokens_per_s=1234.5, study="s2")
    run = store.get_run(a)
    assert run["status"] == "running" and run["pid"] == 42 and run["tokens_per_s"] == 1234.5
    assert run["started_at"] == started and run["started_at"].tzinfo == timezone.utc
    assert run["config"] == {"d_model": 128} and run["study"] == "s2"

    store.update_run(b, status="failed", final_val_loss=float("nan"), error="loss exploded")
    failed = store.get_run(b)
    assert failed["diverged"] is True and failed["final_val_loss"] is None
    store.update_run(a, status="succeeded", final_val_loss=3.25)
    assert store.get_run(a)["diverged"] is False and store.get_run(a)["final_val_loss"] == 3.25

    frame = store.list_runs()
    assert list(frame["id"]) == [b, a]  # newest first
    assert list(frame["study"]) == ["s2", "s2"]
    assert list(store.list_runs(status="failed")["id"]) == [b]
    assert list(store.list_runs(arch="transformer")["id"]) == [a]
    assert store.list_runs(study="s1").empty
    assert store.list_runs(study="s2", arch="dcformer")["id"].tolist() == [b]
    assert str(frame["created_at"].dtype) == "datetime64[us, UTC]"
    assert frame["final_val_loss"].dtype == float and frame["n_params"].dtype == "Int64"
    assert store.get_run("rmissing") is None


def test_run_validation(store):
    with pytest.raises(ValueError, match="arch"):
        _run(store, arch="mamba")
    with pytest.raises(ValueError, match="status"):
        _run(store, status="done")
    rid = _run(store)
    with pytest.raises(ValueError, match="unknown run field 'colour'"):
        store.update_run(rid, colour="red")
    with pytest.raises(ValueError, match="status"):
        store.update_run(rid, status="paused")
    with pytest.raises(UnknownRunError):
        store.update_run("rmissing", status="running")
    assert store.get_run(rid)["status"] == "queued"
    assert store.list_runs()["id"].tolist() == [rid]  # the rejected creates left nothing


def test_heartbeat_and_cancel(store):
    rid = _run(store)
    assert store.get_run(rid)["heartbeat_at"] is None
    store.heartbeat(rid, step=17)
    run = store.get_run(rid)
    assert run["step"] == 17
    assert abs((datetime.now(timezone.utc) - run["heartbeat_at"]).total_seconds()) < 5
    store.heartbeat(rid)
    assert store.get_run(rid)["step"] == 17
    with pytest.raises(UnknownRunError):
        store.heartbeat("rmissing")

    assert store.cancel_requested(rid) is False
    store.request_cancel(rid)
    assert store.cancel_requested(rid) is True
    assert store.cancel_requested("rmissing") is False


def test_metrics_nonfinite_replace_truncate(store):
    rid = _run(store)
    store.log_metrics(rid, [
        {"step": 1, "key": "train_loss", "value": 5.0, "tokens": 1024, "wall_s": 0.5},
        {"step": 2, "key": "train_loss", "value": float("nan"), "tokens": 2048, "wall_s": 1.0},
        {"step": 3, "key": "train_loss", "value": float("inf")},
        {"step": 3, "key": "grad_norm", "value": -math.inf},
        {"step": 3, "key": "lr", "value": 1e-3},
    ])
    m = store.get_metrics(rid)
    assert list(zip(m["key"], m["step"])) == [("grad_norm", 3), ("lr", 3), ("train_loss", 1),
                                              ("train_loss", 2), ("train_loss", 3)]
    loss = m[m["key"] == "train_loss"].set_index("step")
    assert loss.loc[1, "value"] == 5.0 and loss.loc[1, "finite"]
    assert pd.isna(loss.loc[1, "nonfinite"])
    assert loss.loc[1, "tokens"] == 1024 and loss.loc[1, "wall_s"] == 0.5
    assert math.isnan(loss.loc[2, "value"]) and not loss.loc[2, "finite"]
    assert loss.loc[2, "nonfinite"] == "nan" and loss.loc[3, "nonfinite"] == "inf"
    assert m[m["key"] == "grad_norm"]["nonfinite"].item() == "-inf"
    assert pd.isna(loss.loc[3, "tokens"])

    # A repeated (step, key) replaces the old row, in the database and within one batch.
    store.log_metrics(rid, [{"step": 2, "key": "train_loss", "value": 4.0},
                            {"step": 4, "key": "train_loss", "value": 9.0},
                            {"step": 4, "key": "train_loss", "value": 3.5}])
    loss = store.get_metrics(rid, keys=["train_loss"])
    assert loss["step"].tolist() == [1, 2, 3, 4]
    assert loss["value"].tolist()[1] == 4.0 and loss["value"].tolist()[3] == 3.5
    assert loss["finite"].tolist() == [True, True, False, True]

    assert store.truncate_metrics(rid, after_step=2) == 4  # steps 3 (x3) and 4
    assert store.get_metrics(rid)["step"].max() == 2
    assert store.truncate_metrics(rid, after_step=2) == 0

    with pytest.raises(ValueError, match="step"):
        store.log_metrics(rid, [{"key": "lr", "value": 1.0}])
    with pytest.raises(UnknownRunError):
        store.log_metrics("rmissing", [{"step": 1, "key": "lr", "value": 1.0}])


def test_metrics_several_runs_and_empty(store):
    a, b = _run(store), _run(store, seed=1)
    for rid, v in ((a, 1.0), (b, 2.0)):
        store.log_metrics(rid, [{"step": s, "key": k, "value": v} for s in (1, 2)
                                for k in ("val_loss", "train_loss")])
    m = store.get_metrics([b, a], keys=["val_loss"])
    assert m["run_id"].tolist() == sorted([a, a, b, b]) and set(m["key"]) == {"val_loss"}
    empty = store.get_metrics("rmissing")
    assert empty.empty and list(empty.columns) == ["run_id", "step", "key", "value", "finite",
                                                   "nonfinite", "tokens", "wall_s"]


def test_delete_cascades_metrics(store, url):
    keep, gone = _run(store), _run(store)
    for rid in (keep, gone):
        store.log_metrics(rid, [{"step": 1, "key": "lr", "value": 0.1}])
    store.delete_run(gone)
    store.delete_run(gone)  # idempotent
    assert store.get_run(gone) is None and store.get_run(keep) is not None
    raw = sqlite3.connect(url.removeprefix("sqlite:///"))
    counts = dict(raw.execute("SELECT run_id, COUNT(*) FROM metrics GROUP BY run_id").fetchall())
    raw.close()
    assert counts == {keep: 1}


def test_settings(store):
    assert store.get_setting("price", default=2.5) == 2.5
    store.set_setting("price", {"H100": 2.5, "tiers": [1, 2]})
    store.set_setting("price", {"H100": 3.0, "tiers": [1, 2]})
    store.set_setting("lang", "ja")
    assert store.get_setting("price") == {"H100": 3.0, "tiers": [1, 2]}
    assert store.get_setting("lang") == "ja"
    with pytest.raises(TypeError):
        store.set_setting("bad", object())


def test_pragmas_on_fresh_connection(store, url):
    store.dispose()
    with store._engine.connect() as conn:
        pragma = lambda name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
        assert pragma("journal_mode") == "wal"
        assert pragma("foreign_keys") == 1
        assert pragma("busy_timeout") == 30000
        assert pragma("synchronous") == 1  # NORMAL
    assert Store(url).get_setting("missing") is None  # reopening an existing file is fine


# -- concurrency ---------------------------------------------------------------------------------

WRITER = textwrap.dedent("""
    import sys
    from dcpoc.runs.store import Store
    store = Store(sys.argv[1])
    own, shared, name = sys.argv[2], sys.argv[3], sys.argv[4]
    for b in range(200):
        store.log_metrics(own, [{"step": b, "key": k, "value": b * 0.5, "tokens": b * 64}
                                for k in ("train_loss", "lr", "grad_norm")])
        store.log_metrics(shared, [{"step": b, "key": name + "_loss", "value": float(b)}])
        if b % 10 == 0:
            store.heartbeat(own, step=b)
    store.update_run(own, status="succeeded", step=199)
""")


def test_two_writer_processes_and_a_reader(store, url):
    shared = _run(store)
    own = [_run(store, seed=i) for i in range(2)]
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, url, own[i], shared, f"w{i}"],
                              cwd=REPO, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    seen, reads, deadline = 0, 0, time.time() + 60
    while any(p.poll() is None for p in procs) and time.time() < deadline:
        n = len(store.get_metrics(own + [shared]))
        assert n >= seen  # readers see committed batches only, never a rollback
        seen, reads = n, reads + 1
        store.list_runs()
    errors = [p.communicate(timeout=60)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    assert not any("locked" in e for e in errors)
    assert reads > 1
    for rid in own:
        m = store.get_metrics(rid)
        assert len(m) == 600 and m.groupby("key")["step"].nunique().tolist() == [200] * 3
        assert store.get_run(rid)["status"] == "succeeded"
    shared_m = store.get_metrics(shared)
    assert shared_m.groupby("key").size().to_dict() == {"w0_loss": 200, "w1_loss": 200}


# -- errors --------------------------------------------------------------------------------------

def test_unwritable_location(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError) as e:
        Store(f"sqlite:///{blocker}/sub/dcpoc.db")
    assert "cannot open database" in _one_line(e) and "DCPOC_DB" in str(e.value)
    assert blocker.read_text() == "not a directory"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]  # nothing created

    with pytest.raises(StoreError) as e:
        Store("sqlite:////proc/dcpoc-no-such-dir/dcpoc.db")
    assert "/proc/dcpoc-no-such-dir" in _one_line(e)


def test_text_file_is_not_a_database(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("meeting notes\nline two\n")
    with pytest.raises(StoreError) as e:
        Store(f"sqlite:///{notes}")
    assert "is not a dcpoc database" in _one_line(e)
    assert notes.read_text() == "meeting notes\nline two\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]  # no -wal / -shm


def test_foreign_sqlite_database(tmp_path):
    other = tmp_path / "other.db"
    raw = sqlite3.connect(other)
    raw.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, name TEXT)")
    raw.execute("INSERT INTO runs (name) VALUES ('precious')")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError) as e:
        Store(f"sqlite:///{other}")
    assert "is not a dcpoc database" in _one_line(e) and "runs" in str(e.value)
    raw = sqlite3.connect(other)
    assert raw.execute("SELECT name FROM sqlite_master").fetchall() == [("runs",)]
    assert raw.execute("SELECT name FROM runs").fetchall() == [("precious",)]
    raw.close()


@pytest.mark.parametrize("bad", ["not a url", "nosuchdialect://x/y", "sqlite:////"])
def test_malformed_url(bad):
    with pytest.raises(StoreError) as e:
        Store(bad)
    _one_line(e)


@pytest.mark.parametrize("url", ["postgres://dcpoc:secret@db1/dcpoc",
                                 "postgres+psycopg2://dcpoc:secret@db1:5432/dcpoc"])
def test_libpqs_postgres_scheme_names_sqlalchemys_spelling(url):
    """postgres:// (libpq's, Heroku's) is not a SQLAlchemy dialect: say which spelling is."""
    with pytest.raises(StoreError) as e:
        Store(url)
    line = _one_line(e)
    assert "SQLAlchemy spells PostgreSQL postgresql+psycopg2://USER:PASSWORD@HOST/DBNAME" in line
    assert "secret" not in line and "***" in line


def test_locked_database(store, url):
    rid = _run(store)
    store.log_metrics(rid, [{"step": 1, "key": "lr", "value": 0.1}])
    locker = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    locker.execute("UPDATE runs SET preset = 'hijacked'")
    try:
        impatient = Store(url, busy_timeout_ms=200)  # opening only reads: WAL lets it through
        t0 = time.time()
        with pytest.raises(StoreError) as e:
            impatient.log_metrics(rid, [{"step": 2, "key": "lr", "value": 0.2}])
        assert "is locked by another process" in _one_line(e)
        assert time.time() - t0 < 10
        assert impatient.get_run(rid)["preset"] == "tiny"  # readers still read, the old snapshot
        impatient.dispose()
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    m = store.get_metrics(rid)
    assert m["step"].tolist() == [1] and m["value"].tolist() == [0.1]
    assert store.get_run(rid)["preset"] == "tiny"
    store.log_metrics(rid, [{"step": 2, "key": "lr", "value": 0.2}])  # works once released
    assert len(store.get_metrics(rid)) == 2


def test_a_training_run_waits_out_a_locked_database(store, url):
    """A database locked past the busy timeout stopped a training run (a failed run, and 'retry'
    started a new one). The sink keeps the metrics in memory and writes them with the next batch;
    heartbeats and checkpoint notes wait for the next one. Past its patience it gives up."""
    from dcpoc.runs.sink import StoreSink
    rid = _run(store)
    sink = StoreSink(Store(url, busy_timeout_ms=200), rid)
    locker = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        sink.on_metrics([{"step": 1, "key": "train_loss", "value": 5.0}])      # waits in memory
        sink.on_heartbeat(1)
        sink.on_checkpoint(1, "ckpt.pt")
        assert store.get_metrics(rid).empty
    finally:
        locker.execute("ROLLBACK")
    sink.on_metrics([{"step": 2, "key": "train_loss", "value": 4.0}])          # both go in now
    assert store.get_metrics(rid)["step"].tolist() == [1, 2]
    locker.execute("BEGIN EXCLUSIVE")
    try:
        sink.on_metrics([{"step": 3, "key": "train_loss", "value": 3.0}])      # starts waiting
        sink.BUSY_PATIENCE_S = 0.0                                               # ... too long
        with pytest.raises(StoreError, match="is locked by another process"):
            sink.on_metrics([{"step": 4, "key": "train_loss", "value": 2.0}])
    finally:
        locker.execute("ROLLBACK")
        locker.close()
        sink._stop_heartbeat()
    assert store.get_metrics(rid)["step"].tolist() == [1, 2]


def test_a_damaged_database_file_says_so_and_what_to_do(tmp_path):
    """A file cut short read 'check DCPOC_DB (a writable location, a reachable server)'."""
    path = tmp_path / "dcpoc.db"
    store = Store(f"sqlite:///{path}")
    for _ in range(40):
        _run(store)
    store.dispose()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(StoreError) as e:
        Store(f"sqlite:///{path}").list_runs()
    message = _one_line(e)
    assert "is damaged" in message and "backup" in message and "move it away" in message


def test_no_checkpoint_gets_ahead_of_its_metrics_and_the_end_waits_out_a_lock(store, url):
    """A checkpoint saved while its metrics waited in memory left a gap after a crash and resume;
    a lock still held at the end failed a finished run. The loop skips that checkpoint (the next
    one tries again) and on_end waits for the lock like any write."""
    import threading
    from dcpoc.config import make_config
    from dcpoc.runs import create_run
    from dcpoc.runs.sink import StoreSink
    rid = create_run(store, make_config("transformer", "tiny"), status="running")
    sink = StoreSink(Store(url, busy_timeout_ms=200), rid)
    locker = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False)
    locker.execute("BEGIN EXCLUSIVE")
    sink.on_metrics([{"step": 1, "key": "train_loss", "value": 5.0}])
    assert sink.holds_unstored()               # the loop does not save a checkpoint now
    release = threading.Timer(1.5, lambda: (locker.execute("ROLLBACK"), locker.close()))
    release.start()
    summary = {"step": 1, "tokens_seen": 8, "wall_s": 1.0, "final_val_loss": 4.0, "diverged": False,
               "tokens_per_s": 8.0, "peak_mem_bytes": None, "mfu": None, "device": "cpu"}
    sink.on_end("succeeded", summary, None)     # waits out the lock, then records everything
    release.join()
    assert not sink.holds_unstored() and store.get_metrics(rid)["step"].tolist() == [1]
    assert store.get_run(rid)["status"] == "succeeded"

