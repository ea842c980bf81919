"""The schema of 2026-12-05, the first revision: studies, runs, metrics, workers, settings,
benchmarks, exactly as dcpoc/runs/schema.py declared them that day.

A database made by a release before migrations existed already holds some or all of these tables
(migrate.py checks their columns first); those are kept and only the missing ones are created.

Revision ID: 0001
Revises:
Create Date: 2026-12-05
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_UTC = sa.DateTime(timezone=False)   # schema.UTCDateTime stores naive UTC


def _studies() -> None:
    op.create_table(
        "studies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("config_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )


def _runs() -> None:
    nullable = {"study_id", "git_commit", "device", "host", "pid", "started_at", "finished_at",
                "heartbeat_at", "error", "n_params", "flops_per_token", "final_val_loss",
                "tokens_per_s", "peak_mem_bytes", "wall_s", "cost_usd", "mfu", "checkpoint_path",
                "log_path", "worker_id"}
    columns = [
        ("id", sa.String(32)), ("study_id", sa.Integer()), ("arch", sa.String(32)),
        ("preset", sa.String(64)), ("status", sa.String(16)), ("seed", sa.Integer()),
        ("config_json", sa.Text()), ("corpus_spec", sa.Text()),
        ("corpus_fingerprint", sa.String(128)), ("git_commit", sa.String(64)),
        ("versions_json", sa.Text()), ("device", sa.String(200)), ("host", sa.String(200)),
        ("pid", sa.Integer()), ("created_at", _UTC), ("started_at", _UTC),
        ("finished_at", _UTC), ("heartbeat_at", _UTC), ("cancel_requested", sa.Boolean()),
        ("error", sa.Text()), ("step", sa.Integer()), ("total_steps", sa.Integer()),
        ("tokens_seen", sa.BigInteger()), ("n_params", sa.BigInteger()),
        ("flops_per_token", sa.Float()), ("final_val_loss", sa.Float()),
        ("diverged", sa.Boolean()), ("tokens_per_s", sa.Float()),
        ("peak_mem_bytes", sa.BigInteger()), ("wall_s", sa.Float()), ("cost_usd", sa.Float()),
        ("mfu", sa.Float()), ("checkpoint_path", sa.Text()), ("log_path", sa.Text()),
        ("resume_requested", sa.Boolean()), ("worker_id", sa.String(64)),
    ]
    op.create_table(
        "runs",
        *(sa.Column(name, type_, nullable=name in nullable) for name, type_ in columns),
        sa.PrimaryKeyConstraint("id"),
        sa.CheckConstraint("status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')",
                           name="ck_runs_status"),
        sa.ForeignKeyConstraint(["study_id"], ["studies.id"]),
    )
    op.create_index("ix_runs_status", "runs", ["status"])
    op.create_index("ix_runs_study_id", "runs", ["study_id"])


def _metrics() -> None:
    op.create_table(
        "metrics",
        # SQLite only auto-increments a column declared exactly INTEGER.
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("finite", sa.Boolean(), nullable=False),
        sa.Column("nonfinite", sa.String(4), nullable=True),
        sa.Column("tokens", sa.BigInteger(), nullable=True),
        sa.Column("wall_s", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "step", "key", name="uq_metrics_run_step_key"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
    )
    op.create_index("ix_metrics_run_key_step", "metrics", ["run_id", "key", "step"])


def _workers() -> None:
    op.create_table(
        "workers",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("host", sa.String(200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("device", sa.String(64), nullable=False),
        sa.Column("started_at", _UTC, nullable=False),
        sa.Column("heartbeat_at", _UTC, nullable=False),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("host", "device", name="uq_workers_host_device"),
    )


def _settings() -> None:
    op.create_table(
        "settings",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("value_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def _benchmarks() -> None:
    op.create_table(
        "benchmarks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("machine", sa.Text(), nullable=False),
        sa.Column("result_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_benchmarks_kind_created", "benchmarks", ["kind", "created_at"])


_TABLES = {"studies": _studies, "runs": _runs, "metrics": _metrics, "workers": _workers,
           "settings": _settings, "benchmarks": _benchmarks}   # in foreign-key order


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    for name, create in _TABLES.items():
        if name not in existing:
            create()


def downgrade() -> None:
    for name in reversed(_TABLES):
        op.drop_table(name)
