"""The key format, the hash kept of its secret, and a key's state."""

from __future__ import annotations

import re

import pytest

from ragworks.auth.keys import ApiKey, format_key, hash_secret, new_key, parse_key, secret_matches


def test_a_new_key_has_a_12_character_hex_id_and_a_random_secret() -> None:
    key_id, secret = new_key()
    other_id, other_secret = new_key()

    assert re.fullmatch(r"[0-9a-f]{12}", key_id)
    assert len(secret) >= 43  # 32 bytes, URL-safe base64
    assert (key_id, secret) != (other_id, other_secret)


def test_a_formatted_key_parses_back_even_when_the_secret_holds_underscores() -> None:
    key = format_key("0123456789ab", "a_b-c_d")

    assert key == "rw_0123456789ab_a_b-c_d"
    assert parse_key(key) == ("0123456789ab", "a_b-c_d")


@pytest.mark.parametrize(
    "presented",
    [
        "",
        "0123456789ab_secret",  # no prefix
        "rw_0123456789AB_secret",  # upper-case id
        "rw_0123456789a_secret",  # short id
        "rw_0123456789abXsecret",  # no separator
        "rw_0123456789ab_",  # no secret
        "rw_0123456789ab_" + "x" * 300,  # longer than any key this server makes
    ],
)
def test_malformed_keys_do_not_parse(presented: str) -> None:
    assert parse_key(presented) is None


def test_only_the_right_secret_matches_its_hash() -> None:
    stored = hash_secret("right")

    assert len(stored) == 64 and "right" not in stored
    assert secret_matches("right", stored)
    assert not secret_matches("wrong", stored)


def test_a_key_is_active_until_it_expires_or_is_revoked() -> None:
    key = ApiKey("0123456789ab", "k", "acme", ("read",), None, created_at=0.0, expires_at=100.0)

    assert key.state(99.0) == "active"
    assert key.state(100.0) == "expired"
    assert ApiKey("0123456789ab", "k", "acme", ("read",), None, 0.0, revoked_at=5.0).state(1.0) == "revoked"


def test_a_key_s_principal_carries_its_tenant_scopes_and_grants() -> None:
    key = ApiKey("0123456789ab", "k", "acme", ("write",), ("hr",), created_at=0.0)

    principal = key.principal()

    assert (principal.key_id, principal.tenant) == ("0123456789ab", "acme")
    assert principal.has_scope("read") and principal.has_scope("write") and not principal.has_scope("admin")
    assert principal.can_see("hr", "acme") and not principal.can_see("legal", "acme")
    assert not principal.is_operator
