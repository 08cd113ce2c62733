"""SqlKeyStore on PostgreSQL: the KeyStore contract suite."""

from __future__ import annotations

import pytest

from ragworks.engines.store.postgres import PostgresDatabase
from ragworks.engines.store.sql_keys import SqlKeyStore
from ragworks.testing.key_store_contract import KeyStoreTest


class TestPostgresKeyStore(KeyStoreTest):
    """API keys on a fresh database of the session's PostgreSQL server."""

    @pytest.fixture
    def key_store(self, postgres_db: PostgresDatabase) -> SqlKeyStore:
        return SqlKeyStore(postgres_db)
