"""Schema migrations: a database written by the release before migrations (tests/fixtures) opens
with every row; an SQLite file is backed up and upgraded in place; PostgreSQL waits for
`python -m dcpoc db upgrade`; a newer schema asks for a newer dcpoc; and the tables in schema.py are
exactly what the migrations build (a schema change without a migration fails here)."""
from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import MetaData, Table, create_engine, select, text

from dcpoc.runs import STATUSES, Store, StoreError
from dcpoc.runs import migrate
from dcpoc.runs.schema import Base

from conftest import run_cli
from conftest import needs_pg

FIXTURE = Path(__file__).parent / "fixtures" / "dcpoc-2026-12-05.db"
TABLES = ["studies", "runs", "metrics", "workers", "settings", "benchmarks"]   # foreign-key order
TEST_REVISION = '''
"""Test only: a new nullable column, and a change that makes SQLite rebuild the runs table (which
metrics point at with ON DELETE CASCADE)."""
import sqlalchemy as sa
from alembic import op

revision = "0002_test"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("note", sa.String(50), nullable=True))
        batch.alter_column("preset", type_=sa.String(80), existing_nullable=False)


def downgrade():
    pass
'''


def _sqlite_rows(path: Path, table: str) -> tuple[list[str], list[tuple]]:
    """The fixture's columns of ``table`` and its rows, read with sqlite3 (immutable: the file in
    the repository gets no -wal or -shm beside it)."""
    original = sqlite3.connect(f"file:{FIXTURE}?immutable=1", uri=True)
    columns = [row[1] for row in original.execute(f"PRAGMA table_info({table})")]
    original.close()
    raw = sqlite3.connect(f"file:{path}?immutable=1", uri=True) if path == FIXTURE \
        else sqlite3.connect(path)
    try:
        quoted = ", ".join(f'"{c}"' for c in columns)
        return columns, raw.execute(f"SELECT {quoted} FROM {table} ORDER BY 1").fetchall()
    finally:
        raw.close()


def _assert_every_row_kept(path: Path) -> None:
    for table in TABLES:
        assert _sqlite_rows(path, table) == _sqlite_rows(FIXTURE, table), table


def _revision(path: Path) -> list[str]:
    raw = sqlite3.connect(path)
    try:
        return [r[0] for r in raw.execute("SELECT version_num FROM alembic_version")]
    finally:
        raw.close()


@pytest.fixture
def old_db(tmp_path) -> Path:
    path = tmp_path / "dcpoc.db"
    shutil.copyfile(FIXTURE, path)
    return path


@pytest.fixture
def add_test_revision(tmp_path, monkeypatch):
    """Call it to make a copy of the migrations with one more, test-only revision this code's."""
    def add() -> str:
        folder = tmp_path / "migrations"
        shutil.copytree(migrate.MIGRATIONS_DIR, folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
        head = migrate.head_revision()
        (folder / "versions" / "0002_test.py").write_text(TEST_REVISION.format(head=head))
        monkeypatch.setattr(migrate, "MIGRATIONS_DIR", folder)
        assert migrate.head_revision() == "0002_test"
        return "0002_test"
    return add


def _one_line(e: pytest.ExceptionInfo) -> str:
    assert "\n" not in str(e.value) and str(e.value)
    return str(e.value)


# -- SQLite ---------------------------------------------------------------------------------------

def test_old_database_opens_with_every_row(old_db):
    store = Store(f"sqlite:///{old_db}")
    _assert_every_row_kept(old_db)
    assert _revision(old_db) == [migrate.head_revision()]
    # Only stamped while the head is the first revision: no upgrade ran, so no backup.
    backups = list(old_db.parent.glob("dcpoc.db.backup-*"))
    assert bool(backups) == (migrate.head_revision() != migrate.FIRST_REVISION)
    runs = store.list_runs()
    assert set(runs["status"]) == set(STATUSES) and len(runs) == 7
    failed = store.get_run("rfailed0001")
    assert failed["diverged"] and failed["final_val_loss"] is None and failed["study"] == "fixture"
    metrics = store.get_metrics("rfailed0001", ["train_loss"])
    assert list(metrics["nonfinite"].fillna("")) == ["", "inf", "-inf", "nan"]
    assert list(metrics["finite"]) == [True, False, False, False]
    assert store.get_setting("prices") == {"cpu": 0.05, "h100": 2.2}
    assert store.list_benchmarks("infer")[0]["result"]["tokens_per_s"] == 123.5
    assert list(store.list_workers()["run_id"]) == ["rrunning001"]
    done = runs[runs["status"] == "succeeded"].iloc[0]
    assert len(store.get_metrics(done["id"])) > 5 and done["final_val_loss"] > 0
    # ... and it keeps working: new rows, a reopen.
    new = store.create_run(arch="dcformer", preset="tiny", config={}, seed=1, corpus_spec="pydoc",
                           study="fixture")
    store.log_metrics(new, [{"step": 1, "key": "train_loss", "value": 1.0}])
    store.dispose()
    assert len(Store(f"sqlite:///{old_db}").list_runs(study="fixture")) == 7


def test_several_processes_opening_an_old_database_at_once(old_db):
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            Store(f"sqlite:///{old_db}").dispose()
        except BaseException as e:  # noqa: BLE001  (reported below)
            errors.append(e)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and _revision(old_db) == [migrate.head_revision()]
    _assert_every_row_kept(old_db)


@pytest.mark.parametrize("start", ["pre-migration", "first-revision"])
def test_upgrade_that_changes_the_schema_keeps_every_row(old_db, start, add_test_revision):
    if start == "first-revision":
        Store(f"sqlite:///{old_db}").dispose()          # brought to today's head first
    backups_before = set(old_db.parent.glob("dcpoc.db.backup-*"))
    add_test_revision()
    store = Store(f"sqlite:///{old_db}")
    assert _revision(old_db) == ["0002_test"]
    _assert_every_row_kept(old_db)   # metrics survived the rebuild of the runs table
    raw = sqlite3.connect(old_db)
    [ddl] = raw.execute("SELECT sql FROM sqlite_master WHERE name = 'runs'").fetchone()
    assert "VARCHAR(80)" in ddl and "note VARCHAR(50)" in ddl    # the table was rebuilt
    assert raw.execute("SELECT count(*) FROM runs WHERE note IS NULL").fetchone() == (7,)
    assert raw.execute("PRAGMA foreign_key_check").fetchall() == []
    raw.close()
    [backup] = set(old_db.parent.glob("dcpoc.db.backup-*")) - backups_before
    assert not Path(f"{backup}-wal").exists()
    _assert_every_row_kept(backup)   # the copy is the database as it was before the upgrade
    assert "note" not in _sqlite_rows(backup, "runs")[0]
    assert store.get_metrics("rfailed0001")["nonfinite"].tolist()[1:4] == ["inf", "-inf", "nan"]
    store.update_run("rqueued0001", status="cancelled")
    store.dispose()
    Store(f"sqlite:///{old_db}").dispose()            # at head now: no second backup
    assert len(list(old_db.parent.glob("dcpoc.db.backup-*"))) == len(backups_before) + 1


def test_newer_schema_asks_for_a_newer_dcpoc(old_db):
    Store(f"sqlite:///{old_db}").dispose()
    raw = sqlite3.connect(old_db)
    raw.execute("UPDATE alembic_version SET version_num = '9999_future'")
    raw.commit()
    raw.close()
    before, backups = old_db.read_bytes(), set(old_db.parent.glob("*.backup-*"))
    with pytest.raises(StoreError) as e:
        Store(f"sqlite:///{old_db}")
    assert "9999_future" in _one_line(e) and "upgrade dcpoc" in str(e.value)
    assert old_db.read_bytes() == before and set(old_db.parent.glob("*.backup-*")) == backups


def test_old_tables_with_missing_columns_are_refused(tmp_path):
    path = tmp_path / "odd.db"
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE metrics (id INTEGER PRIMARY KEY, run_id TEXT, step INTEGER)")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError) as e:
        Store(f"sqlite:///{path}")
    assert "is not a dcpoc database" in _one_line(e) and "metrics" in str(e.value)


def test_a_release_without_the_newer_tables_gets_them(old_db):
    raw = sqlite3.connect(old_db)
    raw.execute("DROP TABLE benchmarks")    # as a release from before benchmarks made it
    raw.commit()
    raw.close()
    store = Store(f"sqlite:///{old_db}")
    assert store.list_benchmarks("infer") == [] and len(store.list_runs()) == 7


def _schema_sql(engine) -> list[tuple]:
    """Every table's and index's DDL, whitespace collapsed (ALTER TABLE ADD COLUMN appends a
    column on the same line as the one before it)."""
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT type, name, tbl_name, sql FROM sqlite_master "
            "WHERE tbl_name != 'alembic_version' ORDER BY name").fetchall()
    return [(*row[:3], " ".join((row[3] or "").split())) for row in rows]


def test_orm_tables_equal_the_head_revision(tmp_path):
    """What migrations build is exactly schema.py: a schema change needs a migration."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    Store(f"sqlite:///{tmp_path / 'migrated.db'}").dispose()
    migrated = create_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
    with migrated.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    created = create_engine(f"sqlite:///{tmp_path / 'created.db'}")
    Base.metadata.create_all(created)
    assert _schema_sql(migrated) == _schema_sql(created)   # same DDL, names, constraints, indexes


# -- the command line ----------------------------------------------------------------------------

def test_db_commands_on_sqlite(old_db):
    env = {"DCPOC_DB": f"sqlite:///{old_db}"}
    done = run_cli("db", "current", env=env, timeout=120)
    assert done.returncode == 0 and "before schema migrations" in done.stdout, done.stderr
    done = run_cli("db", "upgrade", env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"schema revision {migrate.head_revision()}" in done.stdout
    done = run_cli("db", "current", env=env, timeout=120)
    assert done.stdout.strip().endswith(f"schema revision {migrate.head_revision()} (current)")
    _assert_every_row_kept(old_db)


def test_db_command_errors_are_one_line(old_db, tmp_path):
    Store(f"sqlite:///{old_db}").dispose()
    raw = sqlite3.connect(old_db)
    raw.execute("UPDATE alembic_version SET version_num = '9999_future'")
    raw.commit()
    raw.close()
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database\n")
    for url, words in [(f"sqlite:///{old_db}", "upgrade dcpoc"),
                       (f"sqlite:///{notes}", "is not a dcpoc database")]:
        for action in ("upgrade", "current"):
            done = run_cli("db", action, env={"DCPOC_DB": url}, timeout=120)
            assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
            assert done.stderr.count("\n") == 1 and words in done.stderr


# -- PostgreSQL ----------------------------------------------------------------------------------

def _load_fixture_into(url: str) -> None:
    """The fixture's rows in a PostgreSQL schema made as a release before migrations made it:
    revision 0001's tables and no alembic_version."""
    from alembic import command
    target = create_engine(url)
    with target.begin() as conn:
        command.upgrade(migrate._alembic_config(conn), migrate.FIRST_REVISION)
        conn.execute(text("DROP TABLE alembic_version"))
    source = create_engine(f"sqlite:///file:{FIXTURE}?immutable=1&uri=true")
    with source.connect() as read, target.begin() as write:
        for table in TABLES:
            rows = [dict(r._mapping) for r in read.execute(_fixture_select(table))]
            write.execute(Table(table, MetaData(), autoload_with=write).insert(), rows)
        for table in ("studies", "metrics", "benchmarks"):   # serial ids continue after the copy
            write.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                               f"(SELECT max(id) FROM {table}))"))
    source.dispose()
    target.dispose()


def _fixture_select(table: str):
    """SELECT of the columns the fixture has (later revisions add columns it lacks), typed by
    schema.py, in the fixture's column order."""
    columns = _sqlite_rows(FIXTURE, table)[0]
    return select(*(Base.metadata.tables[table].c[name] for name in columns)).order_by(text("1"))


def _pg_rows(url: str) -> dict[str, list]:
    engine = create_engine(url)
    with engine.connect() as conn:
        found = {t: [tuple(r) for r in conn.execute(_fixture_select(t))] for t in TABLES}
    engine.dispose()
    return found


def _fixture_rows() -> dict[str, list]:
    engine = create_engine(f"sqlite:///file:{FIXTURE}?immutable=1&uri=true")
    with engine.connect() as conn:
        found = {t: [tuple(r) for r in conn.execute(_fixture_select(t))] for t in TABLES}
    engine.dispose()
    return found


@needs_pg
def test_postgres_waits_for_db_upgrade(pg_url):  # noqa: F811
    _load_fixture_into(pg_url)
    with pytest.raises(StoreError) as e:
        Store(pg_url)
    assert "python -m dcpoc db upgrade" in _one_line(e)
    done = run_cli("db", "upgrade", env={"DCPOC_DB": pg_url}, timeout=120)
    assert done.returncode == 0, done.stderr
    store = Store(pg_url)
    assert _pg_rows(pg_url) == _fixture_rows()
    assert set(store.list_runs()["status"]) == set(STATUSES)
    metrics = store.get_metrics("rfailed0001", ["train_loss"])
    assert list(metrics["nonfinite"].fillna("")) == ["", "inf", "-inf", "nan"]
    store.ensure_study("after-upgrade")
    store.dispose()
    done = run_cli("db", "current", env={"DCPOC_DB": pg_url}, timeout=120)
    assert done.returncode == 0 and "(current)" in done.stdout, done.stderr


@needs_pg
def test_postgres_newer_schema_and_orm_equal_head(pg_url):  # noqa: F811
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    Store(pg_url).dispose()                       # an empty database is created at head
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    engine.dispose()
    with pytest.raises(StoreError) as e:
        Store(pg_url)
    assert "upgrade dcpoc" in _one_line(e)
    done = run_cli("db", "upgrade", env={"DCPOC_DB": pg_url}, timeout=120)
    assert done.returncode == 2 and "upgrade dcpoc" in done.stderr
    assert "Traceback" not in done.stderr
