"""Key use-cases for operators, shared by ``ragworks keys`` and ``/v1/admin/keys``: make, list, revoke.

A key is either an operator's (``admin``: no tenant, every tenant's data) or a tenant's with the
``read`` or ``write`` scope, optionally limited to some of the tenant's collections. Blocking: the HTTP
routes call these methods in a thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ragworks.auth.base import KeyStore
from ragworks.auth.keys import ApiKey, format_key, hash_secret, new_key
from ragworks.auth.principal import Scope
from ragworks.errors import BadRequest, Conflict
from ragworks.services.collections import NAME, TENANT

DAY_S = 86_400.0
MAX_NAME_CHARS = 200
_ID_ATTEMPTS = 3  # 48 random bits: a second collision in a row means something else is wrong


@dataclass(frozen=True, slots=True)
class KeyRequest:
    """What a new key may do. Exactly one of ``tenant`` and ``admin``."""

    name: str
    tenant: str | None = None
    scope: Scope | None = None
    """``read`` (the default) or ``write`` for a tenant's key; left unset for an admin key."""
    collections: Sequence[str] | None = None
    admin: bool = False
    expires_in_days: float | None = None


class KeyAdmin:
    """API keys in one store, as an operator manages them."""

    def __init__(self, store: KeyStore, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    def create(self, request: KeyRequest) -> tuple[ApiKey, str]:
        """Make a key; returns it with the full key, which is never shown again.

        Raises:
            BadRequest: the request names both or neither of a tenant and admin, an admin key with
                a scope or collections, or an invalid name, tenant, scope or collection.
        """
        scopes, collections = _grants(request)
        now = self.clock()
        expires_at = now + request.expires_in_days * DAY_S if request.expires_in_days is not None else None
        collisions = 0
        while True:
            key_id, secret = new_key()
            key = ApiKey(key_id, request.name.strip(), request.tenant, scopes, collections, now, expires_at)
            try:
                self.store.add(key, hash_secret(secret))
            except Conflict:
                collisions += 1
                if collisions == _ID_ATTEMPTS:
                    raise
                continue
            return key, format_key(key_id, secret)

    def list(self, tenant: str | None = None) -> list[ApiKey]:
        """Every key, or ``tenant``'s, oldest first."""
        return self.store.list_keys(tenant)

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key; requests with it fail once verifiers' caches expire (``auth.cache_ttl_s``).

        Raises:
            NotFound: no key has this id.
        """
        return self.store.revoke(key_id, self.clock())


def _grants(request: KeyRequest) -> tuple[tuple[str, ...], tuple[str, ...] | None]:
    """The scopes and collection grants of a valid request (BadRequest otherwise)."""
    name = request.name.strip()
    if not name or len(name) > MAX_NAME_CHARS or not name.isprintable():
        raise BadRequest(f"a key needs a name of 1-{MAX_NAME_CHARS} printable characters")
    if request.expires_in_days is not None and not request.expires_in_days > 0:
        raise BadRequest("expires_in_days must be positive")
    if request.admin:
        if request.tenant is not None:
            raise BadRequest("an admin key belongs to no tenant: give either a tenant or admin")
        if request.scope is not None or request.collections is not None:
            raise BadRequest("an admin key has every scope and collection: give no scope or collections")
        return ("admin",), None
    if request.tenant is None:
        raise BadRequest("a key needs a tenant (or admin, for an operator's key)")
    if not TENANT.match(request.tenant):
        raise BadRequest(f"invalid tenant {request.tenant!r}: 1-64 of a-z, 0-9, '_', '.' and '-'")
    scope = request.scope or "read"
    if scope not in ("read", "write"):
        raise BadRequest("a tenant's key has the scope 'read' or 'write' (admin keys are operators')")
    if request.collections is None:
        return (scope,), None
    invalid = [c for c in request.collections if not NAME.match(c)]
    if invalid or not request.collections:
        raise BadRequest(f"collections must be 1 or more valid collection names (invalid: {invalid})")
    return (scope,), tuple(sorted(set(request.collections)))
