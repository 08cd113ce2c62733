"""The SQLite adapters under the contract suites: a real SQLite file in the test's tmp_path.

The builders (drafts, chunks, vectors) live in ``ragworks.testing.builders``, shared with the suites;
they are re-exported here for the other tests.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import update

from ragworks.engines.queue.base import JobQueue
from ragworks.engines.queue.sql import SqlJobQueue
from ragworks.engines.store.schema import documents
from ragworks.engines.store.sql import SqlDatabase, SqlMetadataStore
from ragworks.engines.store.sql_chunks import SqlChunkStore
from ragworks.testing.builders import DIMENSION, accept, draft, new_chunks, ready_document, vector
from ragworks.testing.queue_contract import QueueOpener
from ragworks.testing.store_contract import SetUpdatedAt

__all__ = [
    "DIMENSION",
    "SqliteStores",
    "accept",
    "draft",
    "new_chunks",
    "open_database",
    "open_sql_queue",
    "ready_document",
    "vector",
]


@contextmanager
def open_database(folder: Path) -> Iterator[SqlDatabase]:
    """A migrated SQLite database in ``folder``, closed on exit."""
    db = SqlDatabase(f"sqlite:///{folder / 'db.sqlite'}")
    db.start()
    try:
        yield db
    finally:
        db.close()


@contextmanager
def open_sql_queue(url: str) -> Iterator[JobQueue]:
    """A job queue on the database at ``url`` (opened in another process by the concurrency suite)."""
    db = SqlDatabase(url)
    db.start()
    queue = SqlJobQueue(db)
    try:
        yield queue
    finally:
        queue.close()
        db.close()


class SqliteStores:
    """The fixtures the contract suites need, all on one migrated SQLite file in the test's tmp_path."""

    @pytest.fixture
    def db(self, tmp_path: Path) -> Iterator[SqlDatabase]:
        with open_database(tmp_path) as database:
            yield database

    @pytest.fixture
    def store(self, db: SqlDatabase) -> SqlMetadataStore:
        return SqlMetadataStore(db)

    @pytest.fixture
    def chunk_store(self, db: SqlDatabase) -> SqlChunkStore:
        return SqlChunkStore(db)

    @pytest.fixture
    def queue(self, db: SqlDatabase) -> SqlJobQueue:
        return SqlJobQueue(db)

    @pytest.fixture
    def admin(self, queue: SqlJobQueue) -> SqlJobQueue:
        return queue

    @pytest.fixture
    def open_queue(self, db: SqlDatabase) -> QueueOpener:
        return functools.partial(open_sql_queue, db.url)

    @pytest.fixture
    def set_updated_at(self, db: SqlDatabase) -> SetUpdatedAt:
        def set_all(collection: str, updated_at: float) -> None:
            with db.writer.begin() as conn:
                conn.execute(
                    update(documents)
                    .where(documents.c.collection == collection)
                    .values(updated_at=updated_at)
                )

        return set_all
