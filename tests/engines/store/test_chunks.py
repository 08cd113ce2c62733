"""SqlChunkStore: versioned chunk rows, activation, purge, index entries, spans (the contract suites)."""

from __future__ import annotations

from helpers.store import SqliteStores
from ragworks.testing.chunk_contract import (
    ActivateTest,
    IndexEntriesTest,
    PurgeTest,
    ReplaceChunksTest,
    VersionSpansTest,
)


class TestSqlChunks(
    SqliteStores, ReplaceChunksTest, ActivateTest, PurgeTest, IndexEntriesTest, VersionSpansTest
):
    """Chunk rows on a real SQLite file."""
