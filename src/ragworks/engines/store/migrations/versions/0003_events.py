"""The events table: the history of job and document outcomes, written with the outcome (the outbox).

On PostgreSQL the id is a BIGSERIAL (a 64-bit sequence); on SQLite an ``AUTOINCREMENT`` rowid,
already 64-bit. Neither reuses an id, so readers can page with ``after=<id>``.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the events table and its index on creation time (the retention purge reads it)."""
    op.create_table(
        "events",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("job_id", sa.String(length=32), nullable=True),
        sa.Column("collection", sa.String(length=64), nullable=True),
        sa.Column("document_id", sa.String(length=512), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_events_created", "events", ["created_at"], unique=False)


def downgrade() -> None:
    """Drop the events table."""
    op.drop_index("ix_events_created", table_name="events")
    op.drop_table("events")
