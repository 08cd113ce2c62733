"""Indexes that keep the dashboard's job lists, counts and last-hour series cheap at any size.

- ``ix_jobs_status_created``: the dead-letter list (``status = 'dead'`` newest first) and the oldest
  waiting job, without sorting every dead job;
- ``ix_jobs_finished``: the jobs finished in the last hour, by minute and status.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the two indexes."""
    op.create_index("ix_jobs_status_created", "jobs", ["status", "created_at"], unique=False)
    op.create_index("ix_jobs_finished", "jobs", ["finished_at", "status"], unique=False)


def downgrade() -> None:
    """Drop the two indexes."""
    op.drop_index("ix_jobs_finished", table_name="jobs")
    op.drop_index("ix_jobs_status_created", table_name="jobs")
