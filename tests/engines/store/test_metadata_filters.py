"""Metadata filters on the documents' JSON metadata: SqlMetadataStore.list_documents and
SqlChunkStore.served_keys (the contract suites)."""

from __future__ import annotations

from helpers.store import SqliteStores
from ragworks.testing.chunk_contract import ServedKeysTest
from ragworks.testing.store_contract import MetadataFilterTest


class TestSqlMetadataFilters(SqliteStores, MetadataFilterTest, ServedKeysTest):
    """Filters on a real SQLite file."""
