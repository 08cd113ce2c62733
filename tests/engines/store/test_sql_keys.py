"""SqlKeyStore on SQLite: the KeyStore contract suite, and its columns against the ApiKey record."""

from __future__ import annotations

import dataclasses

import pytest

from ragworks.auth.keys import ApiKey
from ragworks.engines.store.schema import api_keys
from ragworks.engines.store.sql import SqlDatabase
from ragworks.engines.store.sql_keys import SqlKeyStore
from ragworks.testing.key_store_contract import KeyStoreTest


class TestSqliteKeyStore(KeyStoreTest):
    """API keys in a real, migrated SQLite file."""

    @pytest.fixture
    def key_store(self, db: SqlDatabase) -> SqlKeyStore:
        return SqlKeyStore(db)


def test_the_table_holds_the_record_and_the_secret_hash_only() -> None:
    fields = {f.name for f in dataclasses.fields(ApiKey)}

    assert {c.name for c in api_keys.c} == fields | {"secret_hash"}
