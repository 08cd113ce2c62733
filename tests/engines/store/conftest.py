"""Fixtures: a migrated SQLite metadata store, its chunk store and job queue, and one collection."""

from __future__ import annotations

import pytest

from ragworks.engines.queue.sql import SqlJobQueue
from ragworks.engines.store.sql import SqlDatabase, SqlMetadataStore
from ragworks.engines.store.sql_chunks import SqlChunkStore


@pytest.fixture
def store(db: SqlDatabase) -> SqlMetadataStore:
    return SqlMetadataStore(db)


@pytest.fixture
def chunk_store(db: SqlDatabase) -> SqlChunkStore:
    return SqlChunkStore(db)


@pytest.fixture
def queue(db: SqlDatabase) -> SqlJobQueue:
    return SqlJobQueue(db)


@pytest.fixture
def collection(store: SqlMetadataStore) -> str:
    """The name of an empty collection."""
    store.create_collection("docs", "en", "test documents")
    return "docs"
