"""A database opened read-only (`?mode=ro` on DCPOC_DB, or an SQLite file this user cannot write,
such as results on a read-only share): every reading command and the dashboard work and the file
stays byte for byte as it was; a command that writes says in one line that the database is
read-only and what to do; a schema that would need an upgrade says so instead of upgrading."""
import hashlib
import json
import shutil
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

import pytest

from dcpoc.runs.store import Store

from conftest import by_label, open_page, run_cli

FIXTURE = Path(__file__).parent / "fixtures" / "dcpoc-2026-12-05.db"


def single_file_copy(source: Path, home: Path) -> Path:
    """source's database as one checkpointed file in home (as a results file is shipped)."""
    home.mkdir(parents=True)
    shutil.copy(source, home / "dcpoc.db")
    for suffix in ("-wal", "-shm"):
        if source.with_name(source.name + suffix).exists():
            shutil.copy(source.with_name(source.name + suffix), home / f"dcpoc.db{suffix}")
    with closing(sqlite3.connect(home / "dcpoc.db")) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for suffix in ("-wal", "-shm"):
        (home / f"dcpoc.db{suffix}").unlink(missing_ok=True)
    return home


def state(home: Path) -> tuple:
    """The database's bytes and the folder's files: a reader creates none (a -wal or -shm owned by
    a reader would stop the file's owner from writing)."""
    return (hashlib.sha256((home / "dcpoc.db").read_bytes()).hexdigest(),
            sorted(p.name for p in home.iterdir()))


@pytest.fixture
def frozen(trained_home, tmp_path):
    home = single_file_copy(trained_home / "dcpoc.db", tmp_path / "home")
    return home, {"DCPOC_HOME": str(home), "DCPOC_DB": f"sqlite:///{home / 'dcpoc.db'}?mode=ro"}


def test_reading_commands_work_and_leave_the_file_as_it_was(frozen, tmp_path):
    home, env = frozen
    before = state(home)
    listed = run_cli("runs", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)) == 4
    for args in (("study", "list"), ("report", "--study", "s1", "--format", "md", "--out",
                                     str(tmp_path / "r.md")), ("db", "upgrade")):
        done = run_cli(*args, env=env)
        assert done.returncode == 0, (args, done.stderr)
    assert (tmp_path / "r.md").read_text().startswith("# s1")
    assert state(home) == before


def test_the_dashboard_reads_a_read_only_database(frozen, monkeypatch, fresh_caches):
    home, env = frozen
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    before = state(home)
    at = open_page("pages/2_Runs.py")
    assert not at.exception and not at.error
    at = open_page("pages/4_Settings.py")                # a write from a page: one line, no trace
    by_label(at.button, "Save prices").click().run()
    by_label(at.selectbox, "New studies run on").set_value("cpu").run()
    assert not at.exception
    assert [e.value.split(" is open read-only")[0] for e in at.error] == \
        [f"database sqlite:///{home / 'dcpoc.db'}"] * len(at.error) and at.error
    assert state(home) == before


def test_a_command_that_writes_says_so_in_one_line_and_changes_nothing(frozen):
    home, env = frozen
    before = state(home)
    for args in (("prices", "--set", "h100=3"),
                 ("train", "--arch", "transformer", "--preset", "tiny", "--steps", "2", "--no-progress")):
        done = run_cli(*args, env=env)
        assert done.returncode != 0
        last = done.stderr.strip().splitlines()[-1]
        assert last.startswith(f"error: database sqlite:///{home / 'dcpoc.db'} is open read-only"), last
        assert last.endswith("copy it to a writable place and set DCPOC_DB to the copy")
    assert state(home) == before


def test_an_older_schema_is_not_upgraded_read_only(tmp_path):
    home = single_file_copy(FIXTURE, tmp_path / "home")
    before = state(home)
    done = run_cli("runs", env={"DCPOC_HOME": str(home),
                                "DCPOC_DB": f"sqlite:///{home / 'dcpoc.db'}?mode=ro"})
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert "was made by a dcpoc from before schema migrations" in last and "cannot be upgraded" in last
    assert state(home) == before                          # no backup, no upgrade, no WAL files


def test_mode_ro_opens_only_an_existing_database(tmp_path):
    from dcpoc.runs.engine import StoreError
    with pytest.raises(StoreError, match=r"does not exist or is empty, and \?mode=ro opens only"):
        Store(f"sqlite:///{tmp_path / 'none.db'}?mode=ro")
    assert not (tmp_path / "none.db").exists()


def test_a_file_nobody_may_write_opens_read_only(frozen):
    """Without ?mode=ro: an immutable file in an immutable folder (chattr +i holds even for root,
    which file modes do not); skipped where the file system or the user cannot set it."""
    home, _ = frozen
    targets = [str(home / "dcpoc.db"), str(home)]
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", *targets],
                                                       capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        store = Store(f"sqlite:///{home / 'dcpoc.db'}")
        assert store._db.read_only and len(store.list_runs()) == 4
        store.dispose()
    finally:
        subprocess.run(["chattr", "-i", *targets], check=True)


def test_a_reader_sees_what_a_live_writer_commits(frozen):
    """While a process has the database open (its -shm exists), a read-only reader reads as WAL
    readers do, and each read sees the newest commit."""
    home, env = frozen
    writer = Store(f"sqlite:///{home / 'dcpoc.db'}")
    writer.set_setting("probe", 1)
    reader = Store(env["DCPOC_DB"])
    assert reader.get_setting("probe") == 1
    writer.set_setting("probe", 2)
    assert reader.get_setting("probe") == 2
    reader.dispose()
    writer.dispose()


def test_an_unmerged_log_nobody_holds_is_one_line_not_a_silent_loss(frozen):
    """A copy with a non-empty -wal and no -shm: reading the file alone would drop its commits."""
    home, env = frozen
    with closing(sqlite3.connect(home / "dcpoc.db")) as conn:   # a commit left in the log
        conn.execute("PRAGMA wal_autocheckpoint=0")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("UPDATE runs SET corpus_spec = 'in the log'")
        conn.commit()
        shutil.copy(home / "dcpoc.db-wal", home / "kept-wal")
    (home / "dcpoc.db-shm").unlink(missing_ok=True)
    shutil.copy(home / "kept-wal", home / "dcpoc.db-wal")
    done = run_cli("runs", env=env)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert "read-only: unmerged write-ahead log dcpoc.db-wal" in last, last
    assert last.endswith("(any dcpoc command merges the log)")



@pytest.fixture
def read_only_queue(tmp_path, monkeypatch):
    """A database with one local run queued a minute ago and no worker (source/), and a copy of it
    opened with ?mode=ro (home/); the environment of each."""
    from datetime import datetime, timedelta, timezone

    from dcpoc.config import make_config
    from dcpoc.runs import create_run
    source = tmp_path / "source"
    monkeypatch.setenv("DCPOC_HOME", str(source))        # create_run writes the run's folder
    store = Store(f"sqlite:///{source / 'dcpoc.db'}")
    run_id = create_run(store, make_config("transformer", "tiny", [], steps=3))
    minute_ago = datetime.now(timezone.utc) - timedelta(minutes=1)
    store.update_run(run_id, created_at=minute_ago, heartbeat_at=minute_ago)
    store.dispose()
    home = single_file_copy(source / "dcpoc.db", tmp_path / "home")
    return home, {"DCPOC_HOME": str(home), "DCPOC_DB": f"sqlite:///{home / 'dcpoc.db'}?mode=ro"}, \
        {"DCPOC_HOME": str(source), "DCPOC_DB": f"sqlite:///{source / 'dcpoc.db'}"}


def test_a_launch_the_database_refuses_leaves_no_run_folders(read_only_queue):
    """The runs' config files are written before the database: a refused write removes them."""
    home, ro_env, _ = read_only_queue
    before = state(home)
    done = run_cli("study", "launch", "--name", "refused", "--steps", "3", "--no-worker", env=ro_env)
    assert done.returncode != 0 and "is open read-only" in done.stderr.strip().splitlines()[-1]
    assert state(home) == before                      # no DCPOC_HOME/<run id>/config.json left


def test_a_read_only_queue_does_not_advise_a_worker_that_would_refuse(read_only_queue):
    home, ro_env, env = read_only_queue
    writable = run_cli("runs", env=env)               # where a worker could train: start one
    assert "start one: python -m dcpoc worker" in writable.stderr, writable.stderr
    for args in (("runs",), ("study", "list")):
        note = run_cli(*args, env=ro_env).stderr
        assert "1 run(s) are queued" in note and "open read-only here" in note, (args, note)
        assert "python -m dcpoc worker" not in note, (args, note)


def test_the_dashboard_does_not_offer_a_worker_on_a_read_only_queue(read_only_queue, monkeypatch,
                                                                    fresh_caches):
    home, ro_env, _ = read_only_queue
    for name, value in ro_env.items():
        monkeypatch.setenv(name, value)
    at = open_page("pages/2_Runs.py")
    assert any("open read-only here" in i.value for i in at.info), [i.value for i in at.info]
    assert not [b for b in at.button if b.label == "Start a worker"] and not at.warning
