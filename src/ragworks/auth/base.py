"""The KeyStore port: API keys in the store's database.

Every method is synchronous and may block: callers run them off the event loop. The SQL adapter
(``engines/store/sql_keys.py``) serves SQLite and PostgreSQL alike; its contract suite is
``ragworks.testing.key_store_contract``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from ragworks.auth.keys import ApiKey


class KeyStore(Protocol):
    """Create, list, look up, revoke and mark the use of API keys."""

    def add(self, key: ApiKey, secret_hash: str) -> None:
        """Store a new key with the hash of its secret.

        Raises:
            Conflict: a key with this id exists (ids are random: retry with a new one).
        """

    def get(self, key_id: str) -> ApiKey | None:
        """The key ``key_id`` (revoked and expired ones too), or None."""

    def lookup(self, key_id: str) -> tuple[ApiKey, str] | None:
        """The key and its secret's hash, for verification only; None for an unknown id."""

    def list_keys(self, tenant: str | None = None) -> list[ApiKey]:
        """Every key (or only ``tenant``'s), oldest first; never the secrets' hashes."""

    def revoke(self, key_id: str, now: float) -> ApiKey:
        """Revoke the key at ``now`` (a key revoked before keeps its first time) and return it.

        Raises:
            NotFound: no key has this id.
        """

    def touch(self, used_at: Mapping[str, float]) -> None:
        """Record when keys were last used (``{id: time}``); a time earlier than the stored one and
        unknown ids are ignored."""
