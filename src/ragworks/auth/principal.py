"""Who a request acts for: the verified API key's tenant, scopes and collection grants.

The auth middleware puts a :class:`Principal` on ``request.state.principal`` (ASGI
``scope["state"]["principal"]``) before any route runs. With auth off (the embedded default) every
request acts as :data:`LOCAL`, which may do everything.

Scopes are ordered: ``admin`` includes ``write``, which includes ``read``. A key with ``admin`` is an
operator's key: it is not bound to a tenant and sees every tenant's data, the dashboard, ``/metrics``
and the key list. Every other key belongs to exactly one tenant and, when ``collections`` is set, only
to those collections of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from ragworks.domain import DEFAULT_TENANT

Scope = Literal["read", "write", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "write", "admin")
_RANK: dict[str, int] = {"read": 1, "write": 2, "admin": 3}


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of one request."""

    key_id: str | None
    """The API key's public id (``None`` when auth is off)."""
    tenant: str | None
    """The tenant the key belongs to; ``None`` for operator (admin) keys and with auth off."""
    scopes: frozenset[str]
    collections: frozenset[str] | None = None
    """Collections the key is limited to within its tenant; ``None`` = all of the tenant's."""

    @property
    def is_operator(self) -> bool:
        """An admin key (or auth off): every tenant, the dashboard, the key list."""
        return self.tenant is None and "admin" in self.scopes

    def has_scope(self, scope: Scope) -> bool:
        """Whether the key's scopes include ``scope`` (admin > write > read)."""
        needed = _RANK[scope]
        return any(_RANK.get(held, 0) >= needed for held in self.scopes)

    def can_see(self, collection: str, owner_tenant: str | None) -> bool:
        """Whether ``collection``, owned by ``owner_tenant``, is visible to this caller."""
        if self.is_operator:
            return True
        if owner_tenant != self.tenant:
            return False
        return self.collections is None or collection in self.collections

    def visible(self, names: Iterable[tuple[str, str | None]]) -> list[str]:
        """The names among ``(name, owner_tenant)`` pairs this caller may see."""
        return [name for name, owner in names if self.can_see(name, owner)]

    @property
    def owner_for_new(self) -> str:
        """The tenant a collection created by this caller belongs to."""
        return self.tenant if self.tenant is not None else DEFAULT_TENANT


LOCAL = Principal(key_id=None, tenant=None, scopes=frozenset({"admin"}))
"""Auth off: one local user who may do everything."""

ANONYMOUS = Principal(key_id=None, tenant=None, scopes=frozenset())
"""Auth on, no key: what the open paths (health, docs, the dashboard's static files) run as."""
