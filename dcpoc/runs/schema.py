"""The run database's tables as typed SQLAlchemy 2 models.

A change here needs a migration in migrations/versions (tests/test_migrations.py fails otherwise).
Timestamps are stored as naive UTC and read back as timezone-aware UTC. Only the runs package
imports these classes: callers of the Store get dicts and DataFrames, never ORM rows.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    BigInteger, Boolean, CheckConstraint, DateTime, Float, ForeignKey, Index, Integer, String, Text,
    TypeDecorator, UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from .status import STATUSES


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    config_json: Mapped[str] = mapped_column(Text, default="{}")


_STATUS_CHECK = "status IN (" + ", ".join(f"'{s}'" for s in STATUSES) + ")"


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (
        CheckConstraint(_STATUS_CHECK, name="ck_runs_status"),
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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
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
    # Revision 0002. Which attention path trained the run ('torch' | 'triton') and why (auto's
    # self-check verdict, or the explicit setting).
    attn_path: Mapped[str | None] = mapped_column(String(16))
    attn_reason: Mapped[str | None] = mapped_column(Text)
    # Where the run executes: 'local' (a dcpoc worker) or 'slurm' (a batch job). For slurm, the
    # scheduler's job id and its last reconciled state, reason and check time.
    executor: Mapped[str] = mapped_column(String(16), default="local", server_default="local")
    job_id: Mapped[str | None] = mapped_column(String(64))
    job_state: Mapped[str | None] = mapped_column(String(32))
    job_reason: Mapped[str | None] = mapped_column(Text)
    job_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


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
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    machine: Mapped[str] = mapped_column(Text, default="")
    result_json: Mapped[str] = mapped_column(Text)


class SelfCheck(Base):
    """One Triton self-check on a GPU (revision 0002): reused while the GPU, the triton/torch
    versions, the dcpoc commit and the shape (heads, head dim) stay the same."""
    __tablename__ = "selfchecks"
    __table_args__ = (Index("ix_selfchecks_key", "gpu_name", "triton_version", "torch_version",
                            "git_commit", "n_heads", "head_dim"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    gpu_name: Mapped[str] = mapped_column(String(200))
    triton_version: Mapped[str] = mapped_column(String(32))
    torch_version: Mapped[str] = mapped_column(String(64))
    git_commit: Mapped[str] = mapped_column(String(64))
    n_heads: Mapped[int] = mapped_column(Integer)
    head_dim: Mapped[int] = mapped_column(Integer)
    passed: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text)       # the first failure, one line
    triton_ms: Mapped[float | None] = mapped_column(Float)  # forward+backward per step, run's shape
    torch_ms: Mapped[float | None] = mapped_column(Float)
    chosen: Mapped[str] = mapped_column(String(16))       # 'triton' | 'torch': what auto uses
    result_json: Mapped[str] = mapped_column(Text, default="{}")  # every case checked, in full
