"""Contract tests every ChunkStore adapter must pass, one mixin per capability.

An adapter's test class lists the mixins it passes (or ``ChunkStoreContract`` for all of them) after a
base that provides, over one fresh, started database, the fixtures ``store`` (the ``MetadataStore``
whose documents the chunks belong to), ``chunk_store`` (the ``ChunkStore`` under test), ``queue`` and
``admin`` (see ``ragworks.testing.store_contract``); ``collection`` is provided here::

    class TestSqlChunks(SqliteStores, ReplaceChunksTest, ActivateTest): ...
"""

from __future__ import annotations

from ragworks.testing.chunk_read_contract import (
    IndexEntriesTest,
    LookupTest,
    MissingCollectionTest,
    ServedKeysTest,
    VersionSpansTest,
)
from ragworks.testing.chunk_write_contract import ActivateTest, PurgeTest, ReplaceChunksTest

__all__ = [
    "ActivateTest",
    "ChunkStoreContract",
    "IndexEntriesTest",
    "LookupTest",
    "MissingCollectionTest",
    "PurgeTest",
    "ReplaceChunksTest",
    "ServedKeysTest",
    "VersionSpansTest",
]


class ChunkStoreContract(
    ReplaceChunksTest,
    ActivateTest,
    LookupTest,
    MissingCollectionTest,
    PurgeTest,
    ServedKeysTest,
    IndexEntriesTest,
    VersionSpansTest,
):
    """Every ChunkStore capability."""
