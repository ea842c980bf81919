"""Bringing a database's schema to the code's: Alembic run programmatically on the Store's own
engine (migrations/ holds the revisions; there is no alembic.ini).

On open (``check_on_open``): an empty database is created at the newest revision (head); one at
head opens as it is. An SQLite file at an older revision, or made by a release before migrations
(treated as revision 0001 once its tables check out), is copied to a timestamped backup beside it
and upgraded in place. Any other database (PostgreSQL, shared by several machines) is only ever
upgraded by ``python -m dcpoc db upgrade``. A revision this code does not know means a newer dcpoc
wrote the database: the fix is to upgrade dcpoc.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, text

from .engine import Database, StoreError, default_url

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
UPGRADE_COMMAND = "python -m dcpoc db upgrade"
FIRST_REVISION = "0001"
# The tables and columns every release before migrations made (2026-11-29 to 2026-12-05); such a
# database is revision 0001. A release that predates a whole table (workers, benchmarks) is fine:
# revision 0001 creates the tables that are missing.
PRE_MIGRATION_COLUMNS = {
    "studies": "id name question created_at config_json",
    "runs": "id study_id arch preset status seed config_json corpus_spec corpus_fingerprint "
            "git_commit versions_json device host pid created_at started_at finished_at "
            "heartbeat_at cancel_requested error step total_steps tokens_seen n_params "
            "flops_per_token final_val_loss diverged tokens_per_s peak_mem_bytes wall_s cost_usd "
            "mfu checkpoint_path log_path resume_requested worker_id",
    "metrics": "id run_id step key value finite nonfinite tokens wall_s",
    "workers": "id host pid device started_at heartbeat_at run_id",
    "settings": "key value_json",
    "benchmarks": "id kind created_at machine result_json",
}
_PG_LOCK = 74201   # advisory lock id: schema changes take turns (PostgreSQL's catalog collides)


def _alembic_config(connection: Any = None) -> Any:
    from alembic.config import Config
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


@lru_cache(maxsize=4)
def _scripts(location: Path) -> Any:
    from alembic.script import ScriptDirectory
    return ScriptDirectory(str(location))


def head_revision() -> str:
    """The newest revision this code knows."""
    return _scripts(MIGRATIONS_DIR).get_current_head()


def _is_known(revision: str) -> bool:
    from alembic.util import CommandError
    try:
        return _scripts(MIGRATIONS_DIR).get_revision(revision) is not None
    except (CommandError, KeyError, ValueError):  # alembic's ResolutionError is a ValueError
        return False


def database_state(db: Database, conn: Any) -> tuple[str | None, bool]:
    """(revision, versioned) of the database on ``conn``: revision None when it holds none of
    dcpoc's tables, FIRST_REVISION for a release before migrations (versioned False: no
    alembic_version row yet). StoreError (one line) for tables that are not dcpoc's or a revision
    this code does not know."""
    inspector = inspect(conn)
    tables = set(inspector.get_table_names())
    if "alembic_version" in tables:
        versions = [row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))]
        if versions:
            if len(versions) > 1 or not _is_known(versions[0]):
                raise StoreError(
                    f"database {db.shown_url} has schema revision {', '.join(versions)}, which "
                    f"this dcpoc does not know (it knows up to {head_revision()}): a newer dcpoc "
                    "wrote it; upgrade dcpoc (git pull; pip install -r requirements.txt), or set "
                    "DCPOC_DB to another database")
            return versions[0], True
    ours = [name for name in PRE_MIGRATION_COLUMNS if name in tables]
    if not ours:
        return None, False
    for name in ours:
        have = {c["name"] for c in inspector.get_columns(name)}
        lacking = sorted(set(PRE_MIGRATION_COLUMNS[name].split()) - have)
        if lacking:
            raise StoreError(
                f"{db.shown_url} is not a dcpoc database (its table {name} lacks columns "
                f"{', '.join(lacking)}); set DCPOC_DB to a dcpoc database or to a new file path")
    return FIRST_REVISION, False


def check_on_open(db: Database) -> None:
    """Make the database usable by this code, or raise a one-line StoreError saying what to do."""
    with db.translate(opening=True):
        # A read first: opening a database at head must not wait for a writer's lock.
        with db.engine.connect() as conn:
            revision, versioned = database_state(db, conn)
    head = head_revision()
    if revision == head and versioned:
        return
    if revision is not None and not db.is_sqlite:
        why = (f"has schema revision {revision}, older than this dcpoc's {head}" if versioned
               else "was made by a dcpoc from before schema migrations")
        raise StoreError(f"database {db.shown_url} {why}; back it up (pg_dump) and upgrade it "
                         f"with `{UPGRADE_COMMAND}` (DCPOC_DB set to it)")
    upgrade(db)


def upgrade(db: Database) -> tuple[str | None, str, Path | None]:
    """Bring the database to head in one transaction: (revision before, head, backup file or None).
    An SQLite file that had data at an older revision is backed up first; a read-only one (opening
    it, or `db upgrade`) is refused in one line before any backup."""
    from alembic import command
    head = head_revision()
    if db.read_only:
        with db.translate(opening=True), db.engine.connect() as conn:
            revision, versioned = database_state(db, conn)
        if revision == head and versioned:
            return revision, head, None
        why = ("holds no dcpoc tables yet" if revision is None else
               f"has schema revision {revision}, not this dcpoc's {head}" if versioned
               else "was made by a dcpoc from before schema migrations")
        raise StoreError(f"database {db.shown_url} {why}, and it is open read-only (?mode=ro, or "
                         "the file or its folder is not writable), so it cannot be upgraded; copy "
                         "it to a writable place and set DCPOC_DB to the copy")
    with db.translate(opening=True), db.migration_engine() as engine, engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"SELECT pg_advisory_xact_lock({_PG_LOCK})"))
        # Read again under the write lock: another process may have just upgraded it.
        before, versioned = database_state(db, conn)
        if before == head and versioned:
            return before, head, None
        shown = before if versioned or before is None else f"{before} (from before migrations)"
        backup = None
        if db.sqlite_path is not None and before not in (None, head):
            backup = backup_sqlite(db.sqlite_path)
        command.upgrade(_alembic_config(conn), "head")
        if conn.dialect.name == "sqlite":
            broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:   # raising rolls the whole upgrade back
                raise StoreError(f"upgrading {db.shown_url} would break {len(broken)} foreign "
                                 "keys; nothing was changed; please report this")
    return shown, head, backup


def backup_sqlite(path: Path) -> Path:
    """Copy an SQLite file, with what its -wal file holds, to PATH.backup-YYYYmmdd-HHMMSS beside it
    (SQLite's backup API: a consistent copy even while others read it)."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.backup-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.backup-{stamp}-{n}")
    source, copy = sqlite3.connect(path), sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()
    return target


def db_command(action: str, url: str | None = None) -> str:
    """`python -m dcpoc db upgrade|current`: the line to print."""
    db = Database(url or default_url())
    try:
        if action == "upgrade":
            before, head, backup = upgrade(db)
            if before == head:
                return f"{db.shown_url}: schema revision {head} (current); nothing to do"
            done = "created at" if before is None else f"upgraded from {before} to"
            saved = f"; backup: {backup}" if backup else ""
            return f"{db.shown_url}: {done} schema revision {head}{saved}"
        with db.translate(opening=True), db.engine.connect() as conn:
            revision, versioned = database_state(db, conn)
        head = head_revision()
        if revision is None:
            return f"{db.shown_url}: empty (it will be created at schema revision {head})"
        if revision == head and versioned:
            return f"{db.shown_url}: schema revision {head} (current)"
        state = (f"schema revision {revision}" if versioned
                 else f"made before schema migrations (revision {revision})")
        return f"{db.shown_url}: {state}; `{UPGRADE_COMMAND}` brings it to {head}"
    finally:
        db.dispose()
