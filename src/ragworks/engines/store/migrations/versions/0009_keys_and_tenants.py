"""API keys, and the tenant that owns each collection, service job and event.

Collections that exist before this revision belong to the ``default`` tenant. Jobs and events keep a
tenant only where no collection tells whose they are (a service call run as a background job, and its
events); ``NULL`` there means an operator's.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create api_keys and add the tenant columns."""
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=True),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("collections", sa.JSON(), nullable=True),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=True),
        sa.Column("last_used_at", sa.Float(), nullable=True),
        sa.Column("revoked_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_api_keys_tenant", "api_keys", ["tenant"], unique=False)
    with op.batch_alter_table("collections") as batch:
        batch.add_column(sa.Column("tenant", sa.String(length=64), nullable=False, server_default="default"))
    op.create_index("ix_collections_tenant", "collections", ["tenant"], unique=False)
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("tenant", sa.String(length=64), nullable=True))
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("tenant", sa.String(length=64), nullable=True))


def downgrade() -> None:
    """Drop the tenant columns and api_keys."""
    with op.batch_alter_table("events") as batch:
        batch.drop_column("tenant")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("tenant")
    op.drop_index("ix_collections_tenant", table_name="collections")
    with op.batch_alter_table("collections") as batch:
        batch.drop_column("tenant")
    op.drop_index("ix_api_keys_tenant", table_name="api_keys")
    op.drop_table("api_keys")
