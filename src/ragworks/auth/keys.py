"""API keys: the ``rw_<id>_<secret>`` format, the hash kept of the secret, and the stored record.

The id is public (lists, usage reports, logs name a key by it); the secret is shown once, when the
key is made, and only its SHA-256 is stored. A secret of 32 random bytes needs no slow, salted hash:
nobody can guess it, so a fast hash that is cheap to check on every request is enough.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Literal

from ragworks.auth.principal import Principal

PREFIX = "rw_"
ID_LENGTH = 12
_ID_CHARS = frozenset("0123456789abcdef")
_SECRET_START = len(PREFIX) + ID_LENGTH + 1  # "rw_" + id + "_"
MAX_KEY_LENGTH = 256  # anything longer is not a key this server made; refused before hashing

KeyState = Literal["active", "revoked", "expired"]


def new_key() -> tuple[str, str]:
    """A fresh ``(id, secret)``: 12 lowercase hex characters and 32 random bytes, URL-safe."""
    return secrets.token_hex(ID_LENGTH // 2), secrets.token_urlsafe(32)


def format_key(key_id: str, secret: str) -> str:
    """The key as clients send it."""
    return f"{PREFIX}{key_id}_{secret}"


def parse_key(presented: str) -> tuple[str, str] | None:
    """``(id, secret)`` of a well-formed key, else None (the secret may itself contain ``_``)."""
    if len(presented) > MAX_KEY_LENGTH or not presented.startswith(PREFIX):
        return None
    key_id = presented[len(PREFIX) : len(PREFIX) + ID_LENGTH]
    secret = presented[_SECRET_START:]
    if presented[_SECRET_START - 1 : _SECRET_START] != "_" or not secret or not _ID_CHARS.issuperset(key_id):
        return None
    return key_id, secret


def hash_secret(secret: str) -> str:
    """What the store keeps of a secret: its SHA-256, hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    """Whether ``secret`` hashes to ``stored_hash``, compared in constant time."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One API key as stored, without its secret (the record the store, CLI and HTTP API share)."""

    id: str
    name: str
    tenant: str | None
    """The tenant it acts for; None for an operator (admin) key."""
    scopes: tuple[str, ...]
    collections: tuple[str, ...] | None
    """The tenant's collections it is limited to; None for all of them."""
    created_at: float
    expires_at: float | None = None
    last_used_at: float | None = None
    """When it was last seen, to the minute (updates are throttled)."""
    revoked_at: float | None = None

    def state(self, now: float) -> KeyState:
        """``revoked`` or ``expired`` keys fail verification; ``active`` ones pass."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def principal(self) -> Principal:
        """The caller a request authenticated by this key acts as."""
        collections = frozenset(self.collections) if self.collections is not None else None
        return Principal(self.id, self.tenant, frozenset(self.scopes), collections)
