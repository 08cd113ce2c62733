"""The workers table: each worker process's lanes and running jobs, refreshed at every heartbeat.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the workers table and its index on the last heartbeat."""
    op.create_table(
        "workers",
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("lanes", sa.JSON(), nullable=False),
        sa.Column("running", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("last_seen", sa.Float(), nullable=False),
        sa.Column("stopped_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("owner"),
    )
    op.create_index("ix_workers_last_seen", "workers", ["last_seen"], unique=False)


def downgrade() -> None:
    """Drop the workers table."""
    op.drop_index("ix_workers_last_seen", table_name="workers")
    op.drop_table("workers")
