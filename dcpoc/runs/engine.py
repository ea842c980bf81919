"""Opening a database URL: the SQLAlchemy engines, SQLite's connection set-up, and the translation
of driver errors into one line a user can act on.

SQLite (the default) runs in WAL mode so the dashboard's reads never block a training run's writes;
write transactions start with ``BEGIN IMMEDIATE`` so that two writers queue on the busy timeout
instead of failing when a read lock cannot be upgraded. Any other SQLAlchemy URL (PostgreSQL) works
with the same code: nothing else is SQLite-specific.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.pool import NullPool

from .paths import home_dir

_SQLITE_MAGIC = b"SQLite format 3\x00"
# SQLite files whose header this process has read. Read once only: closing any descriptor of the
# file drops every POSIX lock this process holds on it, including the shared lock of an open WAL
# connection; another process (a training job) then takes itself for the last reader, checkpoints
# and deletes the -wal / -shm files, and this process reads stale or "malformed" pages.
_HEADER_CHECKED: set[Path] = set()


class StoreError(RuntimeError):
    """A database problem a user can act on; str() is one line naming the problem and the fix."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


class UnknownRunError(StoreError):
    """The run id names no row (never created, or deleted)."""


def default_url() -> str:
    """``$DCPOC_DB``, else an SQLite file in ``$DCPOC_HOME`` (default ``./runs``) given as an
    absolute path, so that worker subprocesses started from another directory find the same file."""
    url = os.environ.get("DCPOC_DB")
    if url:
        if _in_memory(url):
            raise StoreError(f"DCPOC_DB={url} is an in-memory database: every run trains in its own "
                             "process and would write where no other process reads; set DCPOC_DB "
                             "to a file, e.g. sqlite:///runs/dcpoc.db")
        return url
    return f"sqlite:///{home_dir() / 'dcpoc.db'}"


def _in_memory(url: str) -> bool:
    """Whether a SQLite URL names an in-memory database (sqlite://, sqlite:///, :memory:)."""
    try:
        parsed = make_url(url)
    except (sa_exc.ArgumentError, ValueError):
        return False                       # malformed: Database says so with its own message
    return parsed.get_backend_name() == "sqlite" and _memory_database(parsed)


def _memory_database(url: URL) -> bool:
    """An SQLite URL without a file: sqlite://, sqlite:///, sqlite:///:memory:."""
    return url.database in (None, "", ":memory:")


class Database:
    """One database URL, opened: a read engine, a write engine (``BEGIN IMMEDIATE`` on SQLite), the
    URL as messages show it (password hidden) and the error translation. Creates no tables."""

    def __init__(self, url: str, busy_timeout_ms: int = 30000) -> None:
        self.busy_timeout_ms = int(busy_timeout_ms)
        try:
            self.parsed: URL = make_url(url)
        except (sa_exc.ArgumentError, ValueError) as e:
            raise StoreError(
                f"malformed database URL {url!r} ({e}); use a SQLAlchemy URL such as "
                "sqlite:///runs/dcpoc.db or postgresql+psycopg2://user@host/dbname") from e
        if self.parsed.get_backend_name() == "postgres":   # libpq's and Heroku's spelling
            shown = self.parsed.render_as_string(hide_password=True)
            raise StoreError(f"database URL {shown!r}: SQLAlchemy spells PostgreSQL "
                             "postgresql+psycopg2://USER:PASSWORD@HOST/DBNAME, not postgres://; "
                             "set DCPOC_DB that way")
        self.is_sqlite: bool = self.parsed.get_backend_name() == "sqlite"
        # read-only: asked for (?mode=ro), or an SQLite file this user cannot write; reads work
        self.read_only: bool = self.is_sqlite and self.parsed.query.get("mode") == "ro"
        if self.read_only and not (self.parsed.database or "").startswith("file:"):
            self.parsed = self.parsed.difference_update_query(["mode"])   # a file: URI keeps it
        self.shown_url: str = self.parsed.render_as_string(hide_password=True)
        self.sqlite_path: Path | None = None
        if self.is_sqlite:
            self.sqlite_path, writable = _check_sqlite_file(self.parsed, self.shown_url, self.read_only)
            self.read_only = self.read_only or not writable
        self.engine: Engine = self._create_engine()
        self.write_engine: Engine = self.engine.execution_options(dcpoc_write=True)

    def _create_engine(self, foreign_keys: bool = True, **extra: Any) -> Engine:
        kwargs: dict[str, Any] = {"future": True, **extra}
        if self.is_sqlite:
            kwargs["connect_args"] = {"timeout": self.busy_timeout_ms / 1000}
        if self.read_only and self.sqlite_path is not None:
            # a connection per session: each decides afresh how the file may be read (below)
            kwargs.update(creator=self._read_only_connection, poolclass=NullPool)
        try:
            engine = create_engine(self.parsed, **kwargs)
        except sa_exc.ArgumentError as e:
            raise StoreError(f"malformed database URL {self.shown_url!r} ({e}); use a SQLAlchemy "
                             "URL such as sqlite:///runs/dcpoc.db or "
                             "postgresql+psycopg2://USER:PASSWORD@HOST/DBNAME") from e
        except ImportError as e:
            raise StoreError(f"cannot open database {self.shown_url}: driver not installed ({e}); "
                             "install it or set DCPOC_DB to another URL") from e
        if self.is_sqlite:
            _install_sqlite_hooks(engine, self.busy_timeout_ms, foreign_keys, self.read_only)
        return engine

    def _read_only_connection(self) -> sqlite3.Connection:
        """The SQLite file opened read-only, creating no file beside it (a -wal or -shm owned by a
        reader would stop the file's owner from writing). With the -shm of a process that has it
        open, read as WAL readers do. Without one, and with no write-ahead log left unmerged, no
        process has it open and the file alone is the database: read as immutable, on this one
        session's connection. An unmerged log that nobody has open needs a writer to merge it."""
        path = self.sqlite_path
        assert path is not None
        wal = path.with_name(path.name + "-wal")
        if not _held_open(path) and wal.exists() and wal.stat().st_size:
            raise sqlite3.OperationalError(
                f"unmerged write-ahead log {wal.name} and no process has the database open; "
                "open it once where it is writable (any dcpoc command merges the log)")
        return sqlite3.connect(_read_only_uri(path), uri=True,
                               timeout=self.busy_timeout_ms / 1000, check_same_thread=False)

    @contextmanager
    def migration_engine(self) -> Iterator[Engine]:
        """A write engine for schema changes. On SQLite its connections have foreign keys off:
        a migration that rebuilds a table drops the old one, and with foreign keys on that drop
        would cascade into the rows that point at it (SQLite's own advice for ALTER TABLE).
        An in-memory database lives in its one connection: it is migrated there."""
        if not self.is_sqlite or _memory_database(self.parsed):
            yield self.write_engine
            return
        engine = self._create_engine(foreign_keys=False, poolclass=NullPool)
        try:
            yield engine.execution_options(dcpoc_write=True)
        finally:
            engine.dispose()

    def dispose(self) -> None:
        self.engine.dispose()

    def error(self, e: sa_exc.DBAPIError, opening: bool = False) -> StoreError:
        """The one-line StoreError for a driver error: locked, not a database, unreachable."""
        lines = str(e.orig if e.orig is not None else e).strip().splitlines()
        cause = lines[0] if lines else type(e).__name__
        low = cause.lower()
        if "locked" in low or "busy" in low:
            wait = f"{self.busy_timeout_ms / 1000:g} s"
            return StoreError(f"database {self.shown_url} is locked by another process (busy "
                              f"timeout {wait}); retry, or stop the process holding the lock")
        if "unmerged write-ahead log" in low:
            return StoreError(f"cannot open database {self.shown_url} read-only: {cause}")
        if "readonly" in low or "read-only" in low:
            return StoreError(f"database {self.shown_url} is open read-only (asked for with "
                              "?mode=ro, or the file or its folder is not writable) and this "
                              "needs to write; copy it to a writable place and set DCPOC_DB to "
                              "the copy")
        if "malformed" in low:   # a file cut short or overwritten in part
            return StoreError(f"database {self.shown_url} is damaged ({cause}); put back a copy (the "
                              "dcpoc.db.backup-* files beside it are taken before each upgrade) or "
                              "move it away to start a new database")
        if "not a database" in low or "file is encrypted" in low:
            return StoreError(f"{self.shown_url} is not a dcpoc database ({cause}); "
                              "set DCPOC_DB to a dcpoc database or to a new file path")
        if opening or "unable to open" in low:
            return StoreError(f"cannot open database {self.shown_url}: {cause}; "
                              "check DCPOC_DB (a writable location, a reachable server)")
        return StoreError(f"database {self.shown_url} failed: {cause}; retry, or check DCPOC_DB")

    @contextmanager
    def translate(self, opening: bool = False) -> Iterator[None]:
        try:
            yield
        except sa_exc.DBAPIError as e:  # OperationalError, DatabaseError, IntegrityError, ...
            raise self.error(e, opening) from e


def _check_sqlite_file(url: URL, shown_url: str, read_only: bool = False) -> tuple[Path | None, bool]:
    """Refuse an unusable SQLite path before anything is created or written: (the file's path,
    None for an in-memory database; whether this user can write it and its folder). An existing
    file that cannot be written is opened read-only; a new one needs a writable folder."""
    database = url.database
    if _memory_database(url) or database.startswith("file:"):
        return None, True
    path = Path(database).expanduser()
    where = f"cannot open database {shown_url}"
    if path.is_dir():
        raise StoreError(f"{where}: {path} is a directory; set DCPOC_DB to a file path")
    if path.exists() and path.resolve() not in _HEADER_CHECKED:
        try:
            with open(path, "rb") as f:
                head = f.read(len(_SQLITE_MAGIC))
        except OSError as e:
            raise StoreError(f"{where}: {path} is not readable ({e.strerror}); "
                             "fix its permissions or set DCPOC_DB elsewhere") from e
        if head and head != _SQLITE_MAGIC:  # an empty file is a valid empty database
            raise StoreError(f"{path} is not a dcpoc database (not an SQLite file); "
                             "set DCPOC_DB to a dcpoc database or to a new file path")
        if head:
            _refuse_foreign_tables(path)
    _HEADER_CHECKED.add(path.resolve())   # checked, or to be created by SQLite in this process
    if path.exists() and path.stat().st_size and (read_only or not _writable(path)):
        return path, False
    if read_only:
        raise StoreError(f"{where}: {path} does not exist or is empty, and ?mode=ro opens only "
                         "an existing database; drop ?mode=ro to create one")
    parent = path.parent
    if not parent.is_dir():
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(
                f"{where}: directory {parent} does not exist and cannot be created "
                f"({e.strerror}); set DCPOC_DB to a writable location") from e
    # WAL needs to create the -wal and -shm files next to the database.
    if not os.access(parent, os.W_OK | os.X_OK):
        raise StoreError(f"{where}: directory {parent} is not writable; "
                         "set DCPOC_DB to a writable location")
    return path, True


def _held_open(path: Path) -> bool:
    """Whether a process has the SQLite file open in WAL mode (its -shm file exists)."""
    return path.with_name(path.name + "-shm").exists()


def _read_only_uri(path: Path) -> str:
    """A URI that reads path and creates no -wal or -shm beside it: as WAL readers do while a
    process holds it open, else the file alone (immutable: no process can change it unseen)."""
    return f"{path.resolve().as_uri()}?mode=ro" + ("" if _held_open(path) else "&immutable=1")


def _writable(path: Path) -> bool:
    """The file and its folder (WAL's -wal and -shm files live beside it) can be written."""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)


def _refuse_foreign_tables(path: Path) -> None:
    """StoreError when an SQLite file holds tables and none of dcpoc's: another program's file.
    Read through a read-only connection before any engine opens it (an engine's first connection
    switches the file to WAL)."""
    from .migrate import PRE_MIGRATION_COLUMNS   # here: migrate imports this module
    try:
        with closing(sqlite3.connect(_read_only_uri(path), uri=True)) as conn:
            tables = {row[0] for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error:
        return                              # locked or damaged: the engine's error says which
    if tables and not tables & {*PRE_MIGRATION_COLUMNS, "alembic_version"}:
        raise StoreError(f"{path} is not a dcpoc database (it holds other tables: "
                         f"{', '.join(sorted(tables)[:3])}); set DCPOC_DB to a dcpoc database or "
                         "to a new file path")


def _install_sqlite_hooks(engine: Engine, timeout_ms: int, foreign_keys: bool = True,
                          read_only: bool = False) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN away from the sqlite3 module so that _on_begin decides its kind.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout={timeout_ms}")
            if not read_only:        # both write the file's header; a reader takes the file as is
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A deferred transaction that reads and then writes can fail with SQLITE_BUSY at once
        # (no busy wait) if another writer committed in between; IMMEDIATE takes the write
        # lock up front and waits its turn.
        immediate = conn.get_execution_options().get("dcpoc_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
