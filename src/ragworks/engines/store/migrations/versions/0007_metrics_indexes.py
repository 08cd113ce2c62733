"""An index on jobs (status, kind, next_run_at): the oldest waiting job of each kind in one seek.

Metrics read it at every scrape (``JobAdmin.oldest_waiting``); it also covers the counts by kind and
status, so neither reads the job rows themselves.

It also merges the two branches that start at 0004 (0005, the dashboard's indexes, and 0006, the
usage rollups), so the migrations have one head again.

Revision ID: 0007
Revises: 0005, 0006
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = ("0005", "0006")
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the index."""
    op.create_index("ix_jobs_status_kind_next_run", "jobs", ["status", "kind", "next_run_at"], unique=False)


def downgrade() -> None:
    """Drop the index."""
    op.drop_index("ix_jobs_status_kind_next_run", table_name="jobs")
