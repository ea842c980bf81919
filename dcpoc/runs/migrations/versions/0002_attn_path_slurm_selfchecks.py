"""Which attention path trained a run and why; where a run executes (local worker or a SLURM job,
with the job's id and reconciled state); the Triton self-check results.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_UTC = sa.DateTime(timezone=False)   # schema.UTCDateTime stores naive UTC


def _run_columns() -> list[sa.Column]:
    """New each call: a Column belongs to one table once added."""
    return [sa.Column("attn_path", sa.String(16), nullable=True),
            sa.Column("attn_reason", sa.Text(), nullable=True),
            sa.Column("executor", sa.String(16), nullable=False, server_default="local"),
            sa.Column("job_id", sa.String(64), nullable=True),
            sa.Column("job_state", sa.String(32), nullable=True),
            sa.Column("job_reason", sa.Text(), nullable=True),
            sa.Column("job_checked_at", _UTC, nullable=True)]


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        for column in _run_columns():
            batch.add_column(column)
    op.create_table(
        "selfchecks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("gpu_name", sa.String(200), nullable=False),
        sa.Column("triton_version", sa.String(32), nullable=False),
        sa.Column("torch_version", sa.String(64), nullable=False),
        sa.Column("git_commit", sa.String(64), nullable=False),
        sa.Column("n_heads", sa.Integer(), nullable=False),
        sa.Column("head_dim", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("triton_ms", sa.Float(), nullable=True),
        sa.Column("torch_ms", sa.Float(), nullable=True),
        sa.Column("chosen", sa.String(16), nullable=False),
        sa.Column("result_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_selfchecks_key", "selfchecks",
                    ["gpu_name", "triton_version", "torch_version", "git_commit", "n_heads",
                     "head_dim"])


def downgrade() -> None:
    op.drop_index("ix_selfchecks_key", table_name="selfchecks")
    op.drop_table("selfchecks")
    with op.batch_alter_table("runs") as batch:
        for column in reversed(_run_columns()):
            batch.drop_column(column.name)
