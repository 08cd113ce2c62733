"""Usage rollups: requests and latency buckets per hour and dimensions, top queries per day.

Revision ID: 0006
Revises: 0004
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None

DIMENSIONS = ["hour", "method", "route", "service", "api_key", "collection", "status_class"]


def _dimensions() -> list[Any]:
    return [
        sa.Column("hour", sa.BigInteger(), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("route", sa.String(length=255), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("api_key", sa.String(length=64), nullable=False),
        sa.Column("collection", sa.String(length=255), nullable=False),
        sa.Column("status_class", sa.String(length=3), nullable=False),
    ]


def upgrade() -> None:
    """Create usage_requests, usage_latency and usage_queries."""
    op.create_table(
        "usage_requests",
        *_dimensions(),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("duration_ms_sum", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint(*DIMENSIONS, name="pk_usage_requests"),
    )
    op.create_table(
        "usage_latency",
        *_dimensions(),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(*DIMENSIONS, "bucket", name="pk_usage_latency"),
    )
    op.create_table(
        "usage_queries",
        sa.Column("day", sa.BigInteger(), nullable=False),
        sa.Column("collection", sa.String(length=255), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("zero_results", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "collection", "query", name="pk_usage_queries"),
    )


def downgrade() -> None:
    """Drop the usage tables."""
    op.drop_table("usage_queries")
    op.drop_table("usage_latency")
    op.drop_table("usage_requests")
