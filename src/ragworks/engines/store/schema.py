"""SQL schema of the metadata store (SQLAlchemy Core); Alembic migrations mirror it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

metadata = MetaData()

collections = Table(
    "collections",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("language", String(16), nullable=False, default="auto"),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    # the embedding model of its vectors, set by the first ingest (migration 0008): searching or
    # ingesting with another model is refused instead of mixing vector spaces
    Column("embed_model", String(255)),
    Column("embed_dimension", Integer),
    # whose collection it is (migration 0009): tenants see only their own; names are unique across
    # tenants, as bucket names are
    Column("tenant", String(64), nullable=False, default="default", server_default="default"),
    Index("ix_collections_tenant", "tenant"),
    # how hybrid search fuses its legs here, chosen from pseudo-queries (migration 0010; NULL until the
    # collection is first calibrated): a FusionCalibration.as_json() object
    Column("fusion", JSON),
)

documents = Table(
    "documents",
    metadata,
    Column("collection", String(64), ForeignKey("collections.name", ondelete="CASCADE"), primary_key=True),
    Column("id", String(512), primary_key=True),
    Column("title", Text),
    Column("metadata", JSON, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("active_version", Integer),
    Column("status", String(16), nullable=False),
    Column("source", Text),
    Column("mime", String(128)),
    Column("size_bytes", Integer, nullable=False, default=0),
    Column("chunk_count", Integer, nullable=False, default=0),
    Column("error_code", String(64)),
    Column("error_message", Text),
    Column("job_id", String(32)),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_documents_collection_updated", "collection", "updated_at"),
)

chunks = Table(
    "chunks",
    metadata,
    # 64-bit keys: SQLite's INTEGER PRIMARY KEY is already its 64-bit rowid (and must stay INTEGER to be one)
    Column("key", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("collection", String(64), nullable=False),
    Column("document_id", String(512), nullable=False),
    Column("version", Integer, nullable=False),
    Column("ordinal", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("start", Integer, nullable=False),
    Column("end", Integer, nullable=False),
    Column("page", Integer),
    Column("heading", Text),
    Column("language", String(8), nullable=False),
    Column("tokens", Text, nullable=False),  # analyzer tokens joined by spaces
    Column("vector", LargeBinary, nullable=False),  # float32 little-endian
    Index("ix_chunks_document", "collection", "document_id", "version"),
    sqlite_autoincrement=True,  # keys are index keys: never reuse one after a delete
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("collection", String(64)),
    Column("document_id", String(512)),
    Column("attempts", Integer, nullable=False, default=0),
    Column("max_attempts", Integer, nullable=False),
    Column("next_run_at", Float, nullable=False),
    Column("lease_owner", String(64)),
    Column("lease_expires_at", Float),
    Column("progress", Float, nullable=False, default=0.0),
    Column("stage", String(32)),
    Column("error_type", String(64)),
    Column("error_message", Text),
    Column("result", JSON),
    Column("callback_url", Text),
    Column("history", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("started_at", Float),
    Column("finished_at", Float),
    Column("tenant", String(64)),  # a service job's caller (migration 0009); ingest jobs go by collection
    Index("ix_jobs_status_next_run", "status", "next_run_at"),
    Index("ix_jobs_status_kind_next_run", "status", "kind", "next_run_at"),  # metrics: oldest per kind
    Index("ix_jobs_created", "created_at"),
    # the dashboard's lists and counts (migration 0005; see engines/queue/dashboard.py)
    Index("ix_jobs_status_created", "status", "created_at"),
    Index("ix_jobs_finished", "finished_at", "status"),
)

events = Table(
    "events",
    metadata,
    # 64-bit ids, never reused: readers page through the history with ``after=<id>``
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("kind", String(64), nullable=False),
    Column("job_id", String(32)),
    Column("collection", String(64)),
    Column("document_id", String(512)),
    Column("payload", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("tenant", String(64)),  # set where no collection says whose the event is (migration 0009)
    Index("ix_events_created", "created_at"),
    sqlite_autoincrement=True,
)

workers = Table(
    "workers",
    metadata,
    # one row per worker process, written at start and at every heartbeat; the dashboard shows the live
    # ones (last_seen within a few heartbeats) and what each runs
    Column("owner", String(128), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("role", String(32), nullable=False),
    Column("lanes", JSON, nullable=False),
    Column("running", JSON, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
    Column("stopped_at", Float),
    Index("ix_workers_last_seen", "last_seen"),
)

# Usage rollups (``usage/``): each API process adds its in-memory counts every few seconds with an
# UPSERT that adds, so processes never overwrite each other. Absent dimensions are '' (primary keys).
_USAGE_DIMENSIONS = ("hour", "method", "route", "service", "api_key", "collection", "status_class")


def _usage_dimension_columns() -> list[Column[Any]]:
    return [
        Column("hour", BigInteger, nullable=False),  # start of the UTC hour, epoch seconds
        Column("method", String(8), nullable=False),
        Column("route", String(255), nullable=False),  # the route template, never the raw path
        Column("service", String(64), nullable=False),
        Column("api_key", String(64), nullable=False),
        Column("collection", String(255), nullable=False),  # several collections: joined by ','
        Column("status_class", String(3), nullable=False),  # 2xx, 3xx, 4xx, 5xx
    ]


usage_requests = Table(
    "usage_requests",
    metadata,
    *_usage_dimension_columns(),
    Column("count", BigInteger, nullable=False),
    Column("duration_ms_sum", Float, nullable=False),
    PrimaryKeyConstraint(*_USAGE_DIMENSIONS, name="pk_usage_requests"),
)

usage_latency = Table(
    "usage_latency",
    metadata,
    # one row per non-empty latency bucket of a usage_requests row (usage/histogram.py)
    *_usage_dimension_columns(),
    Column("bucket", Integer, nullable=False),
    Column("count", BigInteger, nullable=False),
    PrimaryKeyConstraint(*_USAGE_DIMENSIONS, "bucket", name="pk_usage_latency"),
)

usage_queries = Table(
    "usage_queries",
    metadata,
    # the top queries of each UTC day, normalised (case-folded, spaces collapsed, cut)
    Column("day", BigInteger, nullable=False),
    Column("collection", String(255), nullable=False),
    Column("query", Text, nullable=False),
    Column("count", BigInteger, nullable=False),
    Column("zero_results", BigInteger, nullable=False),
    PrimaryKeyConstraint("day", "collection", "query", name="pk_usage_queries"),
)


api_keys = Table(
    "api_keys",
    metadata,
    # the public half of a key ``rw_<id>_<secret>``; only a SHA-256 of the secret is stored
    Column("id", String(32), primary_key=True),
    Column("name", Text, nullable=False),
    Column("tenant", String(64)),  # NULL: an operator (admin) key
    Column("scopes", JSON, nullable=False),
    Column("collections", JSON),  # NULL: every collection of the tenant
    Column("secret_hash", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float),
    Column("last_used_at", Float),
    Column("revoked_at", Float),
    Index("ix_api_keys_tenant", "tenant"),
)
