"""A consistent copy of a live SQLite store, and the facts a manifest records about it.

The copy is one step of SQLite's online backup API: it reads every page inside one read transaction,
so it is the database as of one commit, while ``ragworks serve`` keeps writing beside it (WAL mode:
readers never block the writer). The facts are read from the copy, never from the live file, so the
manifest describes exactly the bytes archived.

The queries here read the snapshot as it is, without migrating it (the adapters in ``engines/store``
migrate whatever they open), which is why this module reads the store's tables itself.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Connection, Engine, Select, create_engine, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from ragworks.backup.manifest import BackupError, CollectionCounts
from ragworks.domain import DocumentStatus, JobStatus
from ragworks.engines.store.schema import chunks, collections, documents, jobs

_FLOAT32_BYTES = 4


@dataclass(frozen=True, slots=True)
class SnapshotFacts:
    """What one database snapshot holds."""

    migration_revision: str | None
    collections: list[CollectionCounts]
    blobs: frozenset[str]  # uploads that jobs which may still run refer to


def copy_database(source: Path, target: Path, busy_timeout_s: float = 30.0) -> None:
    """Copy the live database at ``source`` into a new file ``target`` as of one commit.

    The copy is left in rollback-journal mode, one self-contained file (``ragworks serve`` switches it
    back to WAL when it opens it), and checked with ``PRAGMA quick_check``.

    Raises:
        BackupError: ``source`` is missing or the copy fails its check.
    """
    if not source.is_file():
        raise BackupError(f"no database at {source}: is this a ragworks data dir?")
    live = sqlite3.connect(source, timeout=busy_timeout_s)
    copy = sqlite3.connect(target)
    try:
        live.backup(copy)  # pages=-1: one step, so one read transaction and one consistent state
        copy.execute("PRAGMA journal_mode=DELETE")
        verdict = copy.execute("PRAGMA quick_check").fetchone()
    finally:
        copy.close()
        live.close()
    if verdict is None or verdict[0] != "ok":
        raise BackupError(f"the database copy failed SQLite's check: {verdict}")


def read_facts(database: Path) -> SnapshotFacts:
    """Revision, per-collection counts and the uploads still needed, read from a database file."""
    engine = _engine(database, "ro")
    try:
        with engine.connect() as conn:
            revision = _revision(conn)
            names = list(conn.execute(select(collections.c.name).order_by(collections.c.name)).scalars())
            by_status: dict[str, dict[str, int]] = defaultdict(dict)
            status_counts = select(documents.c.collection, documents.c.status, func.count()).group_by(
                documents.c.collection, documents.c.status
            )
            for name, status, count in conn.execute(status_counts):
                by_status[name][status] = int(count)
            served = {
                name: (int(count), int(width or 0) // _FLOAT32_BYTES or None)
                for name, count, width in conn.execute(_served_chunks())
            }
            blobs = frozenset(conn.execute(_needed_blobs()).scalars())
    finally:
        engine.dispose()
    counts = [
        CollectionCounts(
            name=name,
            documents=dict(sorted(by_status[name].items())),
            chunks=served.get(name, (0, None))[0],
            dimension=served.get(name, (0, None))[1],
        )
        for name in names
    ]
    return SnapshotFacts(revision, counts, blobs)


def needed_blobs(database: Path) -> frozenset[str]:
    """The uploads that jobs which may still run refer to, read from the live database at ``database``."""
    # opened read-write (though only read): a read-only connection cannot join a live WAL database
    # whose shared-memory file it may need to create
    engine = _engine(database, "rw")
    try:
        with engine.connect() as conn:
            return frozenset(conn.execute(_needed_blobs()).scalars())
    finally:
        engine.dispose()


def _engine(database: Path, mode: str) -> Engine:
    """An engine on one SQLite file opened in ``mode`` ('ro' or 'rw'; never creating it)."""
    uri = f"file:{quote(str(database.resolve()))}?mode={mode}"
    return create_engine(
        "sqlite://", creator=lambda: sqlite3.connect(uri, uri=True, timeout=30.0), poolclass=NullPool
    )


def _revision(conn: Connection) -> str | None:
    try:
        rows = list(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    except OperationalError:  # a database never migrated has no such table
        return None
    return ",".join(sorted(rows)) or None


def _served_chunks() -> Select[str, int, int | None]:
    # the chunks searches see: the active version of each document that is not deleted
    active = (
        (documents.c.collection == chunks.c.collection)
        & (documents.c.id == chunks.c.document_id)
        & (documents.c.active_version == chunks.c.version)
    )
    return (
        select(chunks.c.collection, func.count(), func.max(func.length(chunks.c.vector)))
        .join(documents, active)
        .where(documents.c.status != DocumentStatus.DELETED)
        .group_by(chunks.c.collection)
    )


def _needed_blobs() -> Select[str]:
    # the rule of SqlJobQueue.blob_in_use: every job but a succeeded one may run again and needs its input
    blob = jobs.c.payload["blob"].as_string()
    return select(blob).where(jobs.c.status != JobStatus.SUCCEEDED, blob.is_not(None)).distinct()
