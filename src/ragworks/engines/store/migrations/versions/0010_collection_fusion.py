"""The hybrid fusion each collection calibrated for itself.

A JSON object (``FusionCalibration.as_json``): normalisation, vector weight, how and when it was chosen.
Collections that exist before this revision have none and use the configured defaults until their next
calibration.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add collections.fusion."""
    with op.batch_alter_table("collections") as batch:
        batch.add_column(sa.Column("fusion", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop collections.fusion."""
    with op.batch_alter_table("collections") as batch:
        batch.drop_column("fusion")
