"""KeyAdmin: what a new key may do, validated before anything is stored; listing and revoking."""

from __future__ import annotations

import pytest

from ragworks.auth.admin import DAY_S, KeyAdmin, KeyRequest
from ragworks.auth.keys import hash_secret, parse_key
from ragworks.engines.store.sql_keys import SqlKeyStore
from ragworks.errors import BadRequest, NotFound


def test_a_tenant_key_is_stored_with_the_hash_of_its_secret_only(
    keys: KeyAdmin, key_store: SqlKeyStore
) -> None:
    key, full_key = keys.create(KeyRequest("search", tenant="acme"))

    parsed = parse_key(full_key)
    assert parsed is not None and parsed[0] == key.id
    found = key_store.lookup(key.id)
    assert found == (key, hash_secret(parsed[1]))
    assert (key.tenant, key.scopes, key.collections, key.expires_at) == ("acme", ("read",), None, None)


def test_an_admin_key_belongs_to_no_tenant(keys: KeyAdmin) -> None:
    key, _ = keys.create(KeyRequest("ops", admin=True))

    assert (key.tenant, key.scopes) == (None, ("admin",))
    assert key.principal().is_operator


def test_scope_collections_and_expiry_are_kept(keys: KeyAdmin) -> None:
    key, _ = keys.create(
        KeyRequest("hr", tenant="acme", scope="write", collections=["legal", "hr", "hr"], expires_in_days=2)
    )

    assert (key.scopes, key.collections) == (("write",), ("hr", "legal"))
    assert key.expires_at == pytest.approx(key.created_at + 2 * DAY_S)


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (KeyRequest("k"), "needs a tenant"),
        (KeyRequest("k", tenant="acme", admin=True), "either a tenant or admin"),
        (KeyRequest("k", admin=True, scope="read"), "no scope or collections"),
        (KeyRequest("k", admin=True, collections=["hr"]), "no scope or collections"),
        (KeyRequest("k", tenant="Acme Corp"), "invalid tenant"),
        (KeyRequest("k", tenant="acme", scope="admin"), "'read' or 'write'"),
        (KeyRequest("k", tenant="acme", collections=["Not Valid"]), "collection names"),
        (KeyRequest("k", tenant="acme", collections=[]), "collection names"),
        (KeyRequest(" ", tenant="acme"), "name"),
        (KeyRequest("tab\there", tenant="acme"), "printable"),
        (KeyRequest("k", tenant="acme", expires_in_days=0), "positive"),
    ],
)
def test_invalid_requests_are_refused_before_anything_is_stored(
    keys: KeyAdmin, key_store: SqlKeyStore, request_: KeyRequest, reason: str
) -> None:
    with pytest.raises(BadRequest, match=reason):
        keys.create(request_)

    assert key_store.list_keys() == []


def test_list_never_shows_a_secret(keys: KeyAdmin) -> None:
    _, full_key = keys.create(KeyRequest("a", tenant="acme"))
    keys.create(KeyRequest("b", tenant="other"))

    listed = keys.list()

    assert [k.name for k in listed] == ["a", "b"]
    assert [k.name for k in keys.list("other")] == ["b"]
    parsed = parse_key(full_key)
    assert parsed is not None and parsed[1] not in repr(listed)


def test_revoke_marks_the_key_and_unknown_ids_are_not_found(keys: KeyAdmin) -> None:
    key, _ = keys.create(KeyRequest("a", tenant="acme"))

    revoked = keys.revoke(key.id)

    assert revoked.revoked_at is not None and revoked.state(revoked.revoked_at) == "revoked"
    with pytest.raises(NotFound):
        keys.revoke("ffffffffffff")
