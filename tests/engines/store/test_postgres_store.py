"""SqlMetadataStore on PostgreSQL: the whole MetadataStore contract suite."""

from __future__ import annotations

from helpers.postgres import PostgresStores
from ragworks.testing.store_contract import MetadataStoreContract


class TestPostgresMetadataStore(PostgresStores, MetadataStoreContract):
    """Collections and documents on a fresh database of the session's PostgreSQL server."""
