"""SqlMetadataStore collections: create, list with counts, get, require, delete (the contract suites)."""

from __future__ import annotations

from helpers.store import SqliteStores
from ragworks.testing.store_contract import CollectionsTest, DeleteCollectionTest


class TestSqlCollections(SqliteStores, CollectionsTest, DeleteCollectionTest):
    """Collections on a real SQLite file."""
