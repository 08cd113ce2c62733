"""KeyStore contract mixins: write and read keys, revoke them, record their use.

An adapter's test class lists the mixins it passes and provides a ``key_store`` fixture (a KeyStore on
an empty, migrated database).
"""

from __future__ import annotations

import pytest

from ragworks.auth.base import KeyStore
from ragworks.auth.keys import ApiKey, hash_secret
from ragworks.errors import Conflict, NotFound


def make_key(
    key_id: str,
    tenant: str | None = "acme",
    *,
    created_at: float = 1_000.0,
    scopes: tuple[str, ...] | None = None,
    collections: tuple[str, ...] | None = None,
    expires_at: float | None = None,
) -> ApiKey:
    """A key record with defaults for the fields a test does not care about."""
    default_scopes = ("read",) if tenant is not None else ("admin",)
    return ApiKey(
        key_id, f"key {key_id}", tenant, scopes or default_scopes, collections, created_at, expires_at
    )


class KeyWriteReadTest:
    """add, get, lookup, list_keys."""

    def test_a_key_reads_back_as_it_was_added(self, key_store: KeyStore) -> None:
        key = make_key("0123456789ab", collections=("hr", "legal"), scopes=("write",), expires_at=5_000.0)
        key_store.add(key, hash_secret("s3cret"))

        assert key_store.get("0123456789ab") == key

    def test_an_admin_key_has_no_tenant_and_no_collections(self, key_store: KeyStore) -> None:
        key_store.add(make_key("00000000000a", tenant=None), hash_secret("x"))

        found = key_store.get("00000000000a")
        assert found is not None
        assert (found.tenant, found.scopes, found.collections) == (None, ("admin",), None)

    def test_lookup_returns_the_secret_hash(self, key_store: KeyStore) -> None:
        key = make_key("0123456789ab")
        key_store.add(key, hash_secret("s3cret"))

        assert key_store.lookup("0123456789ab") == (key, hash_secret("s3cret"))

    def test_unknown_ids_read_as_none(self, key_store: KeyStore) -> None:
        assert key_store.get("ffffffffffff") is None
        assert key_store.lookup("ffffffffffff") is None

    def test_a_taken_id_conflicts(self, key_store: KeyStore) -> None:
        key_store.add(make_key("0123456789ab"), hash_secret("a"))

        with pytest.raises(Conflict):
            key_store.add(make_key("0123456789ab", tenant="other"), hash_secret("b"))

    def test_list_is_oldest_first_and_filters_by_tenant(self, key_store: KeyStore) -> None:
        key_store.add(make_key("00000000000c", created_at=3.0), hash_secret("c"))
        key_store.add(make_key("00000000000a", tenant="other", created_at=1.0), hash_secret("a"))
        key_store.add(make_key("00000000000b", tenant=None, created_at=2.0), hash_secret("b"))

        assert [k.id for k in key_store.list_keys()] == ["00000000000a", "00000000000b", "00000000000c"]
        assert [k.id for k in key_store.list_keys("acme")] == ["00000000000c"]
        assert key_store.list_keys("nobody") == []


class KeyRevokeTest:
    """revoke."""

    def test_revoke_sets_revoked_at(self, key_store: KeyStore) -> None:
        key_store.add(make_key("0123456789ab"), hash_secret("a"))

        revoked = key_store.revoke("0123456789ab", 2_000.0)

        assert revoked.revoked_at == 2_000.0
        assert key_store.get("0123456789ab") == revoked
        assert revoked.state(2_000.0) == "revoked"

    def test_revoking_twice_keeps_the_first_time(self, key_store: KeyStore) -> None:
        key_store.add(make_key("0123456789ab"), hash_secret("a"))
        key_store.revoke("0123456789ab", 2_000.0)

        assert key_store.revoke("0123456789ab", 3_000.0).revoked_at == 2_000.0

    def test_revoking_an_unknown_key_is_not_found(self, key_store: KeyStore) -> None:
        with pytest.raises(NotFound):
            key_store.revoke("ffffffffffff", 2_000.0)


class KeyTouchTest:
    """touch."""

    def test_touch_records_the_last_use_of_each_key(self, key_store: KeyStore) -> None:
        key_store.add(make_key("00000000000a"), hash_secret("a"))
        key_store.add(make_key("00000000000b"), hash_secret("b"))

        key_store.touch({"00000000000a": 1_500.0, "00000000000b": 1_600.0, "ffffffffffff": 1_700.0})

        used = {k.id: k.last_used_at for k in key_store.list_keys()}
        assert used == {"00000000000a": 1_500.0, "00000000000b": 1_600.0}

    def test_touch_never_moves_last_use_back(self, key_store: KeyStore) -> None:
        key_store.add(make_key("00000000000a"), hash_secret("a"))
        key_store.touch({"00000000000a": 1_500.0})

        key_store.touch({"00000000000a": 1_200.0})

        found = key_store.get("00000000000a")
        assert found is not None and found.last_used_at == 1_500.0


class KeyStoreTest(KeyWriteReadTest, KeyRevokeTest, KeyTouchTest):
    """Every KeyStore capability."""
