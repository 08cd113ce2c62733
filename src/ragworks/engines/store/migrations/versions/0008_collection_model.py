"""Collections remember the embedding model of their vectors (name and dimension).

Set by a collection's first ingest; an ingest or a vector search with another model is refused. Until
this revision the bundled all-MiniLM-L6-v2 (384 dimensions) was the only embedder, so collections that
already hold chunks are marked as made by it.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

EARLIER_MODEL = ("all-MiniLM-L6-v2", 384)  # the one embedder before this revision


def upgrade() -> None:
    """Add the two columns and mark collections that already have vectors."""
    with op.batch_alter_table("collections") as batch:
        batch.add_column(sa.Column("embed_model", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("embed_dimension", sa.Integer(), nullable=True))
    collections = sa.table(
        "collections",
        sa.column("name", sa.String),
        sa.column("embed_model", sa.String),
        sa.column("embed_dimension", sa.Integer),
    )
    chunks = sa.table("chunks", sa.column("collection", sa.String))
    has_chunks = sa.exists().where(chunks.c.collection == collections.c.name)
    op.execute(
        collections.update()
        .where(has_chunks)
        .values(embed_model=EARLIER_MODEL[0], embed_dimension=EARLIER_MODEL[1])
    )


def downgrade() -> None:
    """Drop the two columns."""
    with op.batch_alter_table("collections") as batch:
        batch.drop_column("embed_dimension")
        batch.drop_column("embed_model")
