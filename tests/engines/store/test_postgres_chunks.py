"""SqlChunkStore on PostgreSQL: the whole ChunkStore contract suite."""

from __future__ import annotations

from helpers.postgres import PostgresStores
from ragworks.testing.chunk_contract import ChunkStoreContract


class TestPostgresChunkStore(PostgresStores, ChunkStoreContract):
    """Chunk records on a fresh database of the session's PostgreSQL server."""
