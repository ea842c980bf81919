"""The run database: schema, engine and plain read/write functions.

This is the only module that imports SQLAlchemy. Callers get dicts and pandas DataFrames, never ORM
rows. Timestamps are stored as naive UTC and returned as timezone-aware UTC ``datetime`` objects
(DataFrame columns: ``datetime64[..., UTC]``).

SQLite (the default) runs in WAL mode so the dashboard's reads never block a training run's writes;
write transactions start with ``BEGIN IMMEDIATE`` so that two writers queue on the busy timeout
instead of failing when a read lock cannot be upgraded. Any other SQLAlchemy URL (PostgreSQL) works
with the same code: nothing below is SQLite-specific except the connection setup.
"""

from __future__ import annotations

import json
import math
import os
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import pandas as pd
from sqlalchemy import (
    BigInteger, Boolean, CheckConstraint, DateTime, Float, ForeignKey, Index, Integer, String, Text,
    TypeDecorator, UniqueConstraint, create_engine, delete, event, func, inspect, or_, select,
    tuple_, update,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from ..config import ARCHS

STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
_SQLITE_MAGIC = b"SQLite format 3\x00"


class StoreError(RuntimeError):
    """A database problem a user can act on; str() is one line naming the problem and the fix."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


class UnknownRunError(StoreError):
    """The run id names no row (never created, or deleted)."""


def default_url() -> str:
    """``$DCPOC_DB``, else an SQLite file in ``$DCPOC_HOME`` (default ``./runs``) given as an
    absolute path, so that worker subprocesses started from another directory find the same file."""
    if os.environ.get("DCPOC_DB"):
        return os.environ["DCPOC_DB"]
    home = Path(os.environ.get("DCPOC_HOME") or "runs").expanduser().resolve()
    return f"sqlite:///{home / 'dcpoc.db'}"


def new_run_id() -> str:
    return "r" + uuid.uuid4().hex[:10]


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class _UTCDateTime(TypeDecorator):
    """Naive UTC in the database (same on SQLite and PostgreSQL), aware UTC in Python."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.replace(tzinfo=timezone.utc) if value is not None else None


class Base(DeclarativeBase):
    pass


class Study(Base):
    __tablename__ = "studies"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    question: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(_UTCDateTime, default=_utcnow)
    config_json: Mapped[str] = mapped_column(Text, default="{}")


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')",
                        name="ck_runs_status"),
        Index("ix_runs_status", "status"),
        Index("ix_runs_study_id", "study_id"),
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    study_id: Mapped[int | None] = mapped_column(ForeignKey("studies.id"))
    arch: Mapped[str] = mapped_column(String(32))
    preset: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    seed: Mapped[int] = mapped_column(Integer)
    config_json: Mapped[str] = mapped_column(Text, default="{}")
    corpus_spec: Mapped[str] = mapped_column(Text, default="")
    corpus_fingerprint: Mapped[str] = mapped_column(String(128), default="")
    git_commit: Mapped[str | None] = mapped_column(String(64))
    versions_json: Mapped[str] = mapped_column(Text, default="{}")
    device: Mapped[str | None] = mapped_column(String(200))
    host: Mapped[str | None] = mapped_column(String(200))
    pid: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(_UTCDateTime, default=_utcnow)
    started_at: Mapped[datetime | None] = mapped_column(_UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(_UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(_UTCDateTime)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)
    step: Mapped[int] = mapped_column(Integer, default=0)  # last completed step
    total_steps: Mapped[int] = mapped_column(Integer, default=0)
    tokens_seen: Mapped[int] = mapped_column(BigInteger, default=0)
    n_params: Mapped[int | None] = mapped_column(BigInteger)
    flops_per_token: Mapped[float | None] = mapped_column(Float)
    final_val_loss: Mapped[float | None] = mapped_column(Float)
    diverged: Mapped[bool] = mapped_column(Boolean, default=False)  # final loss was NaN/inf
    tokens_per_s: Mapped[float | None] = mapped_column(Float)
    peak_mem_bytes: Mapped[int | None] = mapped_column(BigInteger)
    wall_s: Mapped[float | None] = mapped_column(Float)
    cost_usd: Mapped[float | None] = mapped_column(Float)
    mfu: Mapped[float | None] = mapped_column(Float)
    checkpoint_path: Mapped[str | None] = mapped_column(Text)
    log_path: Mapped[str | None] = mapped_column(Text)
    resume_requested: Mapped[bool] = mapped_column(Boolean, default=False)  # queued to resume
    worker_id: Mapped[str | None] = mapped_column(String(64))  # the worker that claimed it


class Metric(Base):
    __tablename__ = "metrics"
    __table_args__ = (
        UniqueConstraint("run_id", "step", "key", name="uq_metrics_run_step_key"),
        Index("ix_metrics_run_key_step", "run_id", "key", "step"),
    )
    # SQLite only auto-increments a column declared exactly INTEGER.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(64))
    # NULL when not finite: SQLite cannot store NaN, so `finite`/`nonfinite` keep the truth.
    value: Mapped[float | None] = mapped_column(Float)
    finite: Mapped[bool] = mapped_column(Boolean, default=True)
    nonfinite: Mapped[str | None] = mapped_column(String(4))  # 'nan' | 'inf' | '-inf'
    tokens: Mapped[int | None] = mapped_column(BigInteger)
    wall_s: Mapped[float | None] = mapped_column(Float)


class Worker(Base):
    """A live `python -m dcpoc worker`; one per (host, device): a device trains one run at a time."""
    __tablename__ = "workers"
    __table_args__ = (UniqueConstraint("host", "device", name="uq_workers_host_device"),)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    device: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(_UTCDateTime, default=_utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(_UTCDateTime, default=_utcnow)
    run_id: Mapped[str | None] = mapped_column(String(32))  # the run it is supervising


class Setting(Base):
    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value_json: Mapped[str] = mapped_column(Text)


class Benchmark(Base):
    """One benchmark result (e.g. kind 'infer'), stored whole as JSON; the newest one is shown."""
    __tablename__ = "benchmarks"
    __table_args__ = (Index("ix_benchmarks_kind_created", "kind", "created_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(_UTCDateTime, default=_utcnow)
    machine: Mapped[str] = mapped_column(Text, default="")
    result_json: Mapped[str] = mapped_column(Text)


_RUN_COLUMNS = [c.key for c in Run.__table__.columns]
_JSON_ALIASES = {"config": "config_json", "versions": "versions_json"}
# Public shape of a run (get_run keys, list_runs columns): JSON decoded, study name added.
RUN_FIELDS = ["id", "study"] + [c.removesuffix("_json") for c in _RUN_COLUMNS[1:]]
WORKER_FIELDS = ["id", "host", "pid", "device", "started_at", "heartbeat_at", "run_id"]
METRIC_FIELDS = ["run_id", "step", "key", "value", "finite", "nonfinite", "tokens", "wall_s"]
_FLOAT_COLUMNS = {c.key for c in Run.__table__.columns if isinstance(c.type, Float)}
_TIME_COLUMNS = {c.key for c in Run.__table__.columns if isinstance(c.type, _UTCDateTime)}
_DTYPES = [(Float, "float64"), (Integer, "Int64"), (Boolean, "bool"),
           (_UTCDateTime, "datetime64[us, UTC]")]
# Fixed frame dtypes, so that an empty frame or a column of NULLs is still numeric / datetime.
_RUN_DTYPES = {c.key: dtype for c in Run.__table__.columns
               for sql_type, dtype in _DTYPES if isinstance(c.type, sql_type)}
_CHUNK = 400  # rows per DELETE ... IN: far below SQLite's bound-parameter limit


def _nonfinite(value: float | None) -> str | None:
    if value is None or math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return None


def _as_utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)  # naive input is taken to be UTC already
    return value


def _last_sign_of_life() -> Any:
    return func.coalesce(Run.heartbeat_at, Run.started_at, Run.created_at)


def _resumable_on(host: str) -> Any:
    """A run that is not queued to resume, or whose checkpoint is on ``host`` (or no host known)."""
    return or_(Run.resume_requested.is_(False), Run.host.is_(None), Run.host == "",
               Run.host == host)


def _run_dict(run: Run, study: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": run.id, "study": study}
    for col in _RUN_COLUMNS[1:]:
        value = getattr(run, col)
        if col.endswith("_json"):
            out[col.removesuffix("_json")] = json.loads(value) if value else {}
        else:
            out[col] = value
    return out


class Store:
    """A handle on one database. Cheap to keep for a process's lifetime; every method is its own
    short transaction, so a Store can be shared by threads."""

    def __init__(self, url: str | None = None, *, busy_timeout_ms: int = 30000) -> None:
        self.url: str = url or default_url()
        self._busy_timeout_ms = int(busy_timeout_ms)
        try:
            parsed = make_url(self.url)
        except (sa_exc.ArgumentError, ValueError) as e:
            raise StoreError(
                f"malformed database URL {self.url!r} ({e}); use a SQLAlchemy URL such as "
                "sqlite:///runs/dcpoc.db or postgresql://user@host/dbname") from e
        self._shown_url = parsed.render_as_string(hide_password=True)
        self._is_sqlite = parsed.get_backend_name() == "sqlite"
        if self._is_sqlite:
            self._check_sqlite_file(parsed)
        kwargs: dict[str, Any] = {"future": True}
        if self._is_sqlite:
            kwargs["connect_args"] = {"timeout": self._busy_timeout_ms / 1000}
        try:
            self._engine = create_engine(parsed, **kwargs)
        except sa_exc.ArgumentError as e:
            raise StoreError(f"malformed database URL {self._shown_url!r} ({e}); "
                             "use a SQLAlchemy URL such as sqlite:///runs/dcpoc.db") from e
        except ImportError as e:
            raise StoreError(f"cannot open database {self._shown_url}: driver not installed ({e}); "
                             "install it or set DCPOC_DB to another URL") from e
        if self._is_sqlite:
            self._install_sqlite_hooks()
        self._write_engine = self._engine.execution_options(dcpoc_write=True)
        try:
            self._create_schema()
        except BaseException:
            self._engine.dispose()
            raise

    # -- engine -------------------------------------------------------------------------------

    def _check_sqlite_file(self, url: URL) -> None:
        """Refuse an unusable SQLite path before anything is created or written."""
        database = url.database
        if not database or database == ":memory:" or database.startswith("file:"):
            return
        path = Path(database).expanduser()
        where = f"cannot open database {self._shown_url}"
        if path.is_dir():
            raise StoreError(f"{where}: {path} is a directory; set DCPOC_DB to a file path")
        if path.exists():
            try:
                with open(path, "rb") as f:
                    head = f.read(len(_SQLITE_MAGIC))
            except OSError as e:
                raise StoreError(f"{where}: {path} is not readable ({e.strerror}); "
                                 "fix its permissions or set DCPOC_DB elsewhere") from e
            if head and head != _SQLITE_MAGIC:  # an empty file is a valid empty database
                raise StoreError(f"{path} is not a dcpoc database (not an SQLite file); "
                                 "set DCPOC_DB to a dcpoc database or to a new file path")
            if not os.access(path, os.W_OK):
                raise StoreError(f"{where}: file {path} is not writable; "
                                 "fix its permissions or set DCPOC_DB to a writable location")
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

    def _install_sqlite_hooks(self) -> None:
        timeout_ms = self._busy_timeout_ms

        @event.listens_for(self._engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Take BEGIN away from the sqlite3 module so that _on_begin decides its kind.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute(f"PRAGMA busy_timeout={timeout_ms}")
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.execute("PRAGMA foreign_keys=ON")
            finally:
                cursor.close()

        @event.listens_for(self._engine, "begin")
        def _on_begin(conn: Any) -> None:
            # A deferred transaction that reads and then writes can fail with SQLITE_BUSY at once
            # (no busy wait) if another writer committed in between; IMMEDIATE takes the write
            # lock up front and waits its turn.
            immediate = conn.get_execution_options().get("dcpoc_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    def _create_schema(self) -> None:
        with self._translate(opening=True):
            # A read first: opening an existing database must not wait for a writer's lock.
            with self._engine.connect() as conn:
                missing = self._missing_tables(conn)
            if missing:
                with self._write_engine.begin() as conn:
                    if conn.dialect.name == "postgresql":
                        # Concurrent CREATE TABLEs collide in PostgreSQL's catalog: take turns.
                        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(74201)")
                    if self._missing_tables(conn):  # another process may have just made them
                        Base.metadata.create_all(conn)

    def _missing_tables(self, conn: Any) -> list[str]:
        """Our tables not yet in the database; StoreError if one exists with other columns."""
        inspector = inspect(conn)
        existing = set(inspector.get_table_names())
        missing = []
        for table in Base.metadata.sorted_tables:
            if table.name not in existing:
                missing.append(table.name)
                continue
            have = {c["name"] for c in inspector.get_columns(table.name)}
            lacking = sorted({c.name for c in table.columns} - have)
            if lacking:
                raise StoreError(
                    f"{self._shown_url} is not a dcpoc database (its table {table.name} lacks "
                    f"columns {', '.join(lacking)}; an older schema?); "
                    "set DCPOC_DB to a dcpoc database or to a new file path")
        return missing

    def dispose(self) -> None:
        self._engine.dispose()

    def _error(self, e: sa_exc.DBAPIError, opening: bool) -> StoreError:
        lines = str(e.orig if e.orig is not None else e).strip().splitlines()
        cause = lines[0] if lines else type(e).__name__
        low = cause.lower()
        if "locked" in low or "busy" in low:
            wait = f"{self._busy_timeout_ms / 1000:g} s"
            return StoreError(f"database {self._shown_url} is locked by another process (busy "
                              f"timeout {wait}); retry, or stop the process holding the lock")
        if "not a database" in low or "file is encrypted" in low:
            return StoreError(f"{self._shown_url} is not a dcpoc database ({cause}); "
                              "set DCPOC_DB to a dcpoc database or to a new file path")
        if opening or "unable to open" in low:
            return StoreError(f"cannot open database {self._shown_url}: {cause}; "
                              "check DCPOC_DB (a writable location, a reachable server)")
        return StoreError(f"database {self._shown_url} failed: {cause}; retry, or check DCPOC_DB")

    @contextmanager
    def _translate(self, opening: bool = False) -> Iterator[None]:
        try:
            yield
        except sa_exc.DBAPIError as e:  # OperationalError, DatabaseError, IntegrityError, ...
            raise self._error(e, opening) from e

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with self._translate(), Session(self._engine) as session, session.begin():
            yield session

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with self._translate(), Session(self._write_engine) as session, session.begin():
            yield session

    # -- studies ------------------------------------------------------------------------------

    def _study_id(self, session: Session, name: str, question: str = "",
                  config: dict | None = None) -> int:
        found = session.scalar(select(Study.id).where(Study.name == name))
        if found is not None:
            return found
        study = Study(name=name, question=question, config_json=json.dumps(config or {}))
        session.add(study)
        session.flush()
        return study.id

    def ensure_study(self, name: str, question: str = "", config: dict | None = None) -> int:
        """The id of the study called ``name``, creating it if needed (an existing study keeps its
        question and config)."""
        if not name:
            raise ValueError("a study needs a non-empty name")
        try:
            with self._write() as session:
                return self._study_id(session, name, question, config)
        except StoreError as e:
            # Another process created it between our look-up and insert (PostgreSQL only: on
            # SQLite the IMMEDIATE transaction already serialises the two).
            if not isinstance(e.__cause__, sa_exc.IntegrityError):
                raise
            with self._read() as session:
                return session.scalars(select(Study.id).where(Study.name == name)).one()

    def advance_study(self, name: str, key: str, expect: Any, config_update: dict,
                      runs: list[dict]) -> list[str] | None:
        """Compare-and-set on a study's config plus new runs, in one transaction: if the study's
        config[key] equals ``expect``, merge ``config_update`` into its config and insert ``runs``
        (each create_run's keyword arguments, without study); returns their ids. None (nothing
        written) when the study is missing or another process advanced it first."""
        with self._write() as session:
            study = session.scalars(select(Study).where(Study.name == name)
                                    .with_for_update()).one_or_none()
            config = json.loads(study.config_json or "{}") if study is not None else {}
            if study is None or config.get(key) != expect:
                return None
            study.config_json = json.dumps({**config, **config_update})
            ids = []
            for fields in runs:
                run_id = fields.pop("run_id", None) or new_run_id()
                values = self._run_values({"status": "queued", **fields})
                session.add(Run(id=run_id, created_at=_utcnow(), study_id=study.id, **values))
                ids.append(run_id)
            return ids

    def get_study(self, name: str) -> dict | None:
        with self._read() as session:
            study = session.scalars(select(Study).where(Study.name == name)).one_or_none()
            if study is None:
                return None
            return {"id": study.id, "name": study.name, "question": study.question,
                    "created_at": study.created_at, "config": json.loads(study.config_json or "{}")}

    def list_studies(self) -> pd.DataFrame:
        """Columns id, name, question, created_at, config (dict), n_runs; oldest first."""
        n_runs = (select(Run.study_id, func.count(Run.id).label("n")).group_by(Run.study_id)
                  .subquery())
        query = (select(Study, func.coalesce(n_runs.c.n, 0))
                 .outerjoin(n_runs, n_runs.c.study_id == Study.id).order_by(Study.id))
        with self._read() as session:
            rows = [{"id": s.id, "name": s.name, "question": s.question, "created_at": s.created_at,
                     "config": json.loads(s.config_json or "{}"), "n_runs": int(n)}
                    for s, n in session.execute(query)]
        frame = pd.DataFrame(rows, columns=["id", "name", "question", "created_at", "config",
                                            "n_runs"])
        return frame.astype({"id": "int64", "created_at": "datetime64[us, UTC]", "n_runs": "int64"})

    # -- runs ---------------------------------------------------------------------------------

    def _run_values(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Public field names and Python values -> run column values; ValueError on bad input."""
        values: dict[str, Any] = {}
        for name, value in fields.items():
            col = _JSON_ALIASES.get(name, name)
            if col not in _RUN_COLUMNS or col == "id":
                raise ValueError(f"unknown run field {name!r}; known: "
                                 f"{', '.join(sorted(set(_RUN_COLUMNS) - {'id'}))}, study")
            if col.endswith("_json") and not isinstance(value, str):
                value = json.dumps(value if value is not None else {})
            elif col in _FLOAT_COLUMNS and value is not None:
                value = float(value)
                if not math.isfinite(value):
                    value = None  # portable: SQLite would turn NaN into NULL anyway
            elif col in _TIME_COLUMNS:
                value = _as_utc(value)
            values[col] = value
        if "status" in values and values["status"] not in STATUSES:
            raise ValueError(f"unknown run status {values['status']!r}; "
                             f"one of {', '.join(STATUSES)}")
        if "arch" in values and values["arch"] not in ARCHS:
            raise ValueError(f"unknown arch {values['arch']!r}; one of {', '.join(ARCHS)}")
        if "final_val_loss" in fields and "diverged" not in fields:
            loss = fields["final_val_loss"]
            values["diverged"] = loss is not None and not math.isfinite(float(loss))
        return values

    def create_run(self, *, arch: str, preset: str, config: dict, seed: int, corpus_spec: str,
                   corpus_fingerprint: str = "", study: str | None = None, status: str = "queued",
                   total_steps: int = 0, run_id: str | None = None, **fields: Any) -> str:
        """Insert a run and return its id. ``fields``: any other run column; ``versions`` (dict) is
        stored as versions_json."""
        run_id = run_id or new_run_id()
        values = self._run_values({"arch": arch, "preset": preset, "config": config, "seed": seed,
                                   "corpus_spec": corpus_spec,
                                   "corpus_fingerprint": corpus_fingerprint, "status": status,
                                   "total_steps": total_steps, **fields})
        with self._write() as session:
            if study:
                values["study_id"] = self._study_id(session, study)
            session.add(Run(id=run_id, created_at=_utcnow(), **values))
        return run_id

    def update_run(self, run_id: str, **fields: Any) -> None:
        """Set run columns; ``config=``/``versions=`` take dicts, ``study=`` a study name."""
        study_given, study = "study" in fields, fields.pop("study", None)
        values = self._run_values(fields)
        with self._write() as session:
            if study_given:
                values["study_id"] = self._study_id(session, study) if study else None
            if not values:
                if session.get(Run, run_id) is None:
                    raise UnknownRunError(f"no run {run_id!r} in {self._shown_url}; check the id")
                return
            done = session.execute(update(Run).where(Run.id == run_id).values(**values))
            if done.rowcount == 0:
                raise UnknownRunError(f"no run {run_id!r} in {self._shown_url}; check the id")

    def get_run(self, run_id: str) -> dict | None:
        """The run as a dict (keys RUN_FIELDS), or None if there is no such run."""
        with self._read() as session:
            row = session.execute(select(Run, Study.name).outerjoin(Study, Run.study_id == Study.id)
                                  .where(Run.id == run_id)).one_or_none()
            return _run_dict(row[0], row[1]) if row is not None else None

    def list_runs(self, study: str | None = None, status: str | None = None,
                  arch: str | None = None) -> pd.DataFrame:
        """Runs matching every filter given, newest first; columns RUN_FIELDS."""
        query = select(Run, Study.name).outerjoin(Study, Run.study_id == Study.id)
        if study is not None:
            query = query.where(Study.name == study)
        if status is not None:
            query = query.where(Run.status == status)
        if arch is not None:
            query = query.where(Run.arch == arch)
        query = query.order_by(Run.created_at.desc(), Run.id.desc())
        with self._read() as session:
            rows = [_run_dict(run, name) for run, name in session.execute(query)]
        return pd.DataFrame(rows, columns=RUN_FIELDS).astype(_RUN_DTYPES)

    def heartbeat(self, run_id: str, step: int | None = None) -> None:
        values: dict[str, Any] = {"heartbeat_at": _utcnow()}
        if step is not None:
            values["step"] = int(step)
        with self._write() as session:
            if session.execute(update(Run).where(Run.id == run_id).values(**values)).rowcount == 0:
                raise UnknownRunError(f"no run {run_id!r} in {self._shown_url}; was it deleted?")

    def request_cancel(self, run_id: str) -> None:
        self.update_run(run_id, cancel_requested=True)

    def cancel_requested(self, run_id: str) -> bool:
        """False for an unknown run too; a deleted run's writer fails at its next write instead."""
        with self._read() as session:
            return bool(session.scalar(select(Run.cancel_requested).where(Run.id == run_id)))

    def delete_run(self, run_id: str) -> None:
        """Delete the run and (ON DELETE CASCADE) its metrics; no error if it does not exist."""
        with self._write() as session:
            session.execute(delete(Run).where(Run.id == run_id))

    # -- queue and workers --------------------------------------------------------------------

    def claim_run(self, worker_id: str, host: str, run_id: str | None = None) -> dict | None:
        """Atomically take the oldest queued run (or run ``run_id`` if it is queued) for a worker:
        status running, worker_id and host set, pid cleared, heartbeat now, resume_requested reset.
        Returns the run as it was while queued (its ``resume_requested`` says how to start it), or
        None when nothing is queued that this host may take.

        A run queued to resume is claimable only from the host it last ran on (when it has one):
        its checkpoint lies under that host's DCPOC_HOME, and elsewhere it would restart from
        step 0. Workers on other hosts pass over it.

        Two claimers never get the same run: the UPDATE matches only a row that is still queued.
        On SQLite the IMMEDIATE transaction serialises claimers; on PostgreSQL FOR UPDATE SKIP
        LOCKED lets a second claimer pass over the row the first is taking."""
        claimable = (Run.status == "queued", _resumable_on(host))
        query = select(Run.id).where(*claimable)
        if run_id is not None:
            query = query.where(Run.id == run_id)
        query = query.order_by(Run.created_at, Run.id).limit(1).with_for_update(skip_locked=True)
        with self._write() as session:
            for _ in range(8):  # a lost race moves on to the next queued run
                candidate = session.scalar(query)
                if candidate is None:
                    return None
                row = session.execute(select(Run, Study.name)
                                      .outerjoin(Study, Run.study_id == Study.id)
                                      .where(Run.id == candidate)).one()
                queued = _run_dict(row[0], row[1])
                claim = (update(Run).where(Run.id == candidate, *claimable)
                         .values(status="running", worker_id=worker_id, host=host, pid=None,
                                 heartbeat_at=_utcnow(), resume_requested=False)
                         .execution_options(synchronize_session=False))
                if session.execute(claim).rowcount == 1:
                    return {**queued, "status": "running", "worker_id": worker_id, "host": host}
        return None

    def transition_run(self, run_id: str, from_status: tuple[str, ...] | list[str], *,
                       stale_before: datetime | None = None, **fields: Any) -> bool:
        """Set run fields only while its status is one of ``from_status`` (and, given
        ``stale_before``, its last sign of life is older): a compare-and-set, so a concurrent
        change (a claim, a run finishing) wins cleanly. True if the run was changed."""
        values = self._run_values(fields)
        conditions = [Run.id == run_id, Run.status.in_(list(from_status))]
        if stale_before is not None:
            conditions.append(_last_sign_of_life() < _as_utc(stale_before))
        with self._write() as session:
            done = session.execute(update(Run).where(*conditions).values(**values)
                                   .execution_options(synchronize_session=False))
            return done.rowcount == 1

    def stale_runs(self, before: datetime) -> list[dict]:
        """Running runs whose last sign of life (heartbeat, else start, else creation) is older
        than ``before``."""
        query = (select(Run, Study.name).outerjoin(Study, Run.study_id == Study.id)
                 .where(Run.status == "running", _last_sign_of_life() < _as_utc(before))
                 .order_by(Run.created_at))
        with self._read() as session:
            return [_run_dict(run, name) for run, name in session.execute(query)]

    def register_worker(self, worker_id: str, host: str, pid: int, device: str) -> bool:
        """Record a live worker; False if one is already registered for (host, device)."""
        now = _utcnow()
        try:
            with self._write() as session:
                session.add(Worker(id=worker_id, host=host, pid=int(pid), device=device,
                                   started_at=now, heartbeat_at=now))
        except StoreError as e:
            if isinstance(e.__cause__, sa_exc.IntegrityError):
                return False
            raise
        return True

    def worker_heartbeat(self, worker_id: str, run_id: str | None = None) -> bool:
        """Refresh the worker's heartbeat and current run; False if its row is gone (another
        worker judged it dead and took its device)."""
        with self._write() as session:
            done = session.execute(update(Worker).where(Worker.id == worker_id)
                                   .values(heartbeat_at=_utcnow(), run_id=run_id))
            return done.rowcount == 1

    def remove_worker(self, worker_id: str) -> None:
        with self._write() as session:
            session.execute(delete(Worker).where(Worker.id == worker_id))

    def list_workers(self) -> pd.DataFrame:
        """Registered workers (columns WORKER_FIELDS), oldest first. A worker that died without
        unregistering stays listed until it is cleaned up: judge liveness by heartbeat_at."""
        query = select(*(getattr(Worker, c) for c in WORKER_FIELDS)).order_by(Worker.started_at)
        with self._read() as session:
            rows = [tuple(r) for r in session.execute(query)]
        frame = pd.DataFrame(rows, columns=WORKER_FIELDS)
        return frame.astype({"pid": "int64", "started_at": "datetime64[us, UTC]",
                             "heartbeat_at": "datetime64[us, UTC]"})

    # -- metrics ------------------------------------------------------------------------------

    def log_metrics(self, run_id: str, rows: list[dict]) -> None:
        """Write metric rows ({'step', 'key', 'value', optional 'tokens', 'wall_s'}) in one
        transaction. A row whose (step, key) already exists replaces it, so a resumed run that
        repeats a step leaves no duplicates; within ``rows`` the last one wins."""
        latest: dict[tuple[int, str], dict[str, Any]] = {}
        for row in rows:
            try:
                step, key = int(row["step"]), str(row["key"])
            except KeyError as e:
                raise ValueError(f"metric row {row!r} lacks {e.args[0]!r}") from e
            value = row.get("value")
            value = None if value is None else float(value)
            nonfinite = _nonfinite(value)
            tokens, wall_s = row.get("tokens"), row.get("wall_s")
            latest[(step, key)] = {
                "run_id": run_id, "step": step, "key": key,
                "value": None if nonfinite else value, "finite": nonfinite is None,
                "nonfinite": nonfinite, "tokens": None if tokens is None else int(tokens),
                "wall_s": None if wall_s is None else float(wall_s)}
        if not latest:
            return
        pairs = list(latest)
        # Delete-then-insert is the portable upsert (no dialect-specific ON CONFLICT).
        with self._write() as session:
            if session.get(Run, run_id) is None:
                raise UnknownRunError(f"no run {run_id!r} in {self._shown_url}; was it deleted?")
            for i in range(0, len(pairs), _CHUNK):
                session.execute(delete(Metric).where(
                    Metric.run_id == run_id,
                    tuple_(Metric.step, Metric.key).in_(pairs[i:i + _CHUNK])))
            session.execute(Metric.__table__.insert(), list(latest.values()))

    def truncate_metrics(self, run_id: str, after_step: int) -> int:
        """Delete the run's metrics with step > after_step (resume from a checkpoint); the count."""
        with self._write() as session:
            done = session.execute(delete(Metric).where(Metric.run_id == run_id,
                                                        Metric.step > int(after_step)))
            return int(done.rowcount)

    def get_metrics(self, run_id: str | list[str], keys: list[str] | None = None) -> pd.DataFrame:
        """Columns METRIC_FIELDS sorted by run_id, key, step; value is NaN where not finite (see
        ``nonfinite`` for which), tokens is a nullable Int64."""
        run_ids = [run_id] if isinstance(run_id, str) else list(run_id)
        query = (select(*(getattr(Metric, c) for c in METRIC_FIELDS))
                 .where(Metric.run_id.in_(run_ids))
                 .order_by(Metric.run_id, Metric.key, Metric.step))
        if keys is not None:
            query = query.where(Metric.key.in_(list(keys)))
        with self._read() as session:
            rows = session.execute(query).all()
        frame = pd.DataFrame([tuple(r) for r in rows], columns=METRIC_FIELDS)
        return frame.astype({"step": "int64", "value": "float64", "finite": bool,
                             "tokens": "Int64", "wall_s": "float64"})

    # -- settings -----------------------------------------------------------------------------

    def get_setting(self, key: str, default: Any = None) -> Any:
        with self._read() as session:
            raw = session.scalar(select(Setting.value_json).where(Setting.key == key))
        return default if raw is None else json.loads(raw)

    def set_setting(self, key: str, value: Any) -> None:
        """Store a JSON-serialisable value (TypeError otherwise)."""
        raw = json.dumps(value)
        with self._write() as session:
            session.merge(Setting(key=key, value_json=raw))

    # -- benchmarks ---------------------------------------------------------------------------

    def add_benchmark(self, kind: str, result: dict) -> int:
        """Store one benchmark result (JSON-serialisable; its 'machine' entry, if any, is also kept
        as text for listing). Returns the new id."""
        raw = json.dumps(result)
        machine = result.get("machine", "")
        machine = machine if isinstance(machine, str) else json.dumps(machine, sort_keys=True)
        with self._write() as session:
            row = Benchmark(kind=kind, machine=machine, result_json=raw)
            session.add(row)
            session.flush()
            return int(row.id)

    def list_benchmarks(self, kind: str) -> list[dict]:
        """Results of one kind, newest first: dicts (id, kind, created_at, machine, result)."""
        with self._read() as session:
            rows = session.scalars(select(Benchmark).where(Benchmark.kind == kind)
                                   .order_by(Benchmark.created_at.desc(), Benchmark.id.desc())).all()
            return [{"id": r.id, "kind": r.kind, "created_at": _as_utc(r.created_at),
                     "machine": r.machine, "result": json.loads(r.result_json)} for r in rows]
