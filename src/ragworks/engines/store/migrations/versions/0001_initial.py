"""Initial schema: collections, documents, chunks, jobs.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

from ragworks.engines.store.schema import metadata

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create every table of the first schema."""
    metadata.create_all(op.get_bind())


def downgrade() -> None:
    """Drop every table."""
    metadata.drop_all(op.get_bind())
