"""The Store: the run database's reads and writes.

Callers get dicts and pandas DataFrames, never ORM rows. Timestamps come back as timezone-aware UTC
``datetime`` objects (DataFrame columns: ``datetime64[..., UTC]``). The tables are in schema.py,
the engine set-up and error translation in engine.py, schema upgrades in migrate.py, the shapes of
what goes in and out in rows.py.
"""

from __future__ import annotations

import json
import uuid
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Callable, Iterator

import pandas as pd
from sqlalchemy import delete, func, or_, select, tuple_, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from ..config import config_variant
from .engine import Database, StoreError, UnknownRunError, default_url
from .migrate import check_on_open
from .rows import (METRIC_FIELDS, RUN_DTYPES, RUN_FIELDS, WORKER_FIELDS, as_utc, metric_rows,
                   run_dict, run_values)
from .schema import Benchmark, Metric, Run, Setting, Study, Worker
from .schema import utcnow as _utcnow
from .status import Status

__all__ = ["Store", "StoreError", "UnknownRunError", "default_url", "new_run_id", "RUN_FIELDS",
           "WORKER_FIELDS", "METRIC_FIELDS"]
_QUEUED, _RUNNING = Status.QUEUED.value, Status.RUNNING.value


def new_run_id() -> str:
    return "r" + uuid.uuid4().hex[:10]


_CHUNK = 400  # rows per DELETE ... IN: far below SQLite's bound-parameter limit


def _last_sign_of_life() -> Any:
    return func.coalesce(Run.heartbeat_at, Run.started_at, Run.created_at)


def _resumable_on(host: str) -> Any:
    """A run that is not queued to resume, or whose checkpoint is on ``host`` (or no host known)."""
    return or_(Run.resume_requested.is_(False), Run.host.is_(None), Run.host == "",
               Run.host == host)


class Store:
    """A handle on one database. Cheap to keep for a process's lifetime; every method is its own
    short transaction, so a Store can be shared by threads."""

    def __init__(self, url: str | None = None, *, busy_timeout_ms: int = 30000) -> None:
        self.url: str = url or default_url()
        self._db = Database(self.url, busy_timeout_ms)
        self.read_only: bool = self._db.read_only   # reads work; a worker here could not train
        self._shown_url = self._db.shown_url
        self._engine, self._write_engine = self._db.engine, self._db.write_engine
        try:
            check_on_open(self._db)
        except BaseException:
            self._db.dispose()
            raise

    def dispose(self) -> None:
        self._db.dispose()

    def session(self, write: bool = False) -> Any:
        """A session in one transaction (committed on leaving, rolled back on an error) for the
        runs package's modules that own a table or a whole-study transaction (bundle.py,
        selfcheck_rows.py); database errors come out as StoreError."""
        return self._write() if write else self._read()

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with self._db.translate(), Session(self._engine) as session, session.begin():
            yield session

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with self._db.translate(), Session(self._write_engine) as session, session.begin():
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
            return self._add_runs(session, study.id, runs)

    def queue_study(self, name: str, question: str, config: dict, runs: list[dict]) -> list[str]:
        """The study called ``name`` (created if missing; an existing one keeps its question and
        config) and new runs in it (each create_run's keyword arguments, without study), in one
        transaction: a launch that fails part-way leaves no study and no run behind."""
        if not name:
            raise ValueError("a study needs a non-empty name")
        with self._write() as session:
            return self._add_runs(session, self._study_id(session, name, question, config), runs)

    def _add_runs(self, session: Session, study_id: int, runs: list[dict]) -> list[str]:
        ids = []
        for fields in runs:
            fields = dict(fields)
            run_id = fields.pop("run_id", None) or new_run_id()
            values = run_values({"status": _QUEUED, **fields})
            session.add(Run(id=run_id, created_at=_utcnow(), study_id=study_id, **values))
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

    def create_run(self, *, arch: str, preset: str, config: dict, seed: int, corpus_spec: str,
                   corpus_fingerprint: str = "", study: str | None = None, status: str = _QUEUED,
                   total_steps: int = 0, run_id: str | None = None, **fields: Any) -> str:
        """Insert a run and return its id. ``fields``: any other run column; ``versions`` (dict) is
        stored as versions_json."""
        run_id = run_id or new_run_id()
        values = run_values({"arch": arch, "preset": preset, "config": config, "seed": seed,
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
        values = run_values(fields)
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
            return run_dict(row[0], row[1]) if row is not None else None

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
            rows = [run_dict(run, name) for run, name in session.execute(query)]
        frame = pd.DataFrame(rows, columns=RUN_FIELDS).astype(RUN_DTYPES)
        # derived, not stored: arch + QK-norm (old runs without qk_norm in their config had it on)
        return frame.assign(variant=[config_variant(a, c) for a, c in zip(frame["arch"],
                                                                          frame["config"])])

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

    def claim_run(self, worker_id: str, host: str, run_id: str | None = None,
                  accepts: Callable[[dict], bool] | None = None) -> dict | None:
        """Atomically take the oldest queued run (or run ``run_id`` if it is queued) for a worker:
        status running, worker_id and host set, pid cleared, heartbeat now, resume_requested reset.
        Returns the run as it was while queued (its ``resume_requested`` says how to start it), or
        None when nothing is queued that this host may take.

        A run queued to resume is claimable only from the host it last ran on (when it has one):
        its checkpoint lies under that host's DCPOC_HOME, and elsewhere it would restart from
        step 0. Workers on other hosts pass over it.

        accepts ({"id", "config"} -> bool): a worker passes over runs it cannot train (a run that
        asks for GPUs it does not have) and takes the next one. It is asked before the write
        transaction, from an unlocked read: no lock is held while it runs, and no passed-over row
        is locked from the workers that can train it.

        Two claimers never get the same run: the UPDATE matches only a row that is still queued.
        On SQLite the IMMEDIATE transaction serialises claimers; on PostgreSQL FOR UPDATE SKIP
        LOCKED lets a second claimer pass over the row the first is taking."""
        # A worker never takes a SLURM run; its own batch job does, by id, on whichever node its
        # job landed (DCPOC_HOME is shared storage there).
        claimable = ((Run.status == _QUEUED, Run.executor != "slurm", _resumable_on(host))
                     if run_id is None else
                     (Run.status == _QUEUED, or_(Run.executor == "slurm", _resumable_on(host))))
        query = select(Run.id).where(*claimable)
        if run_id is not None:
            query = query.where(Run.id == run_id)
        if accepts is not None:
            with self._read() as session:
                queued_runs = session.execute(select(Run.id, Run.config_json).where(*claimable)).all()
            allowed = [i for i, config in queued_runs if accepts({"id": i, "config": json.loads(config)})]
            if not allowed:
                return None
            query = query.where(Run.id.in_(allowed))
        query = query.order_by(Run.created_at, Run.id).limit(1).with_for_update(skip_locked=True)
        with self._write() as session:
            for _ in range(8):  # a lost race moves on to the next queued run
                candidate = session.scalar(query)
                if candidate is None:
                    return None
                row = session.execute(select(Run, Study.name)
                                      .outerjoin(Study, Run.study_id == Study.id)
                                      .where(Run.id == candidate)).one()
                queued = run_dict(row[0], row[1])
                claim = (update(Run).where(Run.id == candidate, *claimable)
                         .values(status=_RUNNING, worker_id=worker_id, host=host, pid=None,
                                 heartbeat_at=_utcnow(), resume_requested=False)
                         .execution_options(synchronize_session=False))
                if session.execute(claim).rowcount == 1:
                    return {**queued, "status": _RUNNING, "worker_id": worker_id, "host": host}
        return None

    def transition_run(self, run_id: str, from_status: tuple[str, ...] | list[str], *,
                       stale_before: datetime | None = None, **fields: Any) -> bool:
        """Set run fields only while its status is one of ``from_status`` (and, given
        ``stale_before``, its last sign of life is older): a compare-and-set, so a concurrent
        change (a claim, a run finishing) wins cleanly. True if the run was changed."""
        values = run_values(fields)
        conditions = [Run.id == run_id, Run.status.in_(list(from_status))]
        if stale_before is not None:
            conditions.append(_last_sign_of_life() < as_utc(stale_before))
        with self._write() as session:
            done = session.execute(update(Run).where(*conditions).values(**values)
                                   .execution_options(synchronize_session=False))
            return done.rowcount == 1

    def stale_runs(self, before: datetime) -> list[dict]:
        """Running runs whose last sign of life (heartbeat, else start, else creation) is older
        than ``before``."""
        query = (select(Run, Study.name).outerjoin(Study, Run.study_id == Study.id)
                 .where(Run.status == _RUNNING, _last_sign_of_life() < as_utc(before))
                 .order_by(Run.created_at))
        with self._read() as session:
            return [run_dict(run, name) for run, name in session.execute(query)]

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
        latest = metric_rows(run_id, rows)
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

    def prices(self) -> dict[str, float]:
        """The edited price table ($ per device-hour by kind; {} when none: the defaults apply)."""
        return dict(self.get_setting("prices", None) or {})

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
            return [{"id": r.id, "kind": r.kind, "created_at": as_utc(r.created_at),
                     "machine": r.machine, "result": json.loads(r.result_json)} for r in rows]
