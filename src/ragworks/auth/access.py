"""Who may do what: scope checks and collection visibility, for routes and use-cases alike.

A collection another tenant owns (or one outside a key's grants) answers 404 exactly as a missing one
does, so a key cannot learn which names other tenants use; a visible collection that needs a scope the
key lacks answers 403. Operators (admin keys, or everyone with auth off) skip every lookup here, so the
embedded default pays nothing for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import anyio

from ragworks.auth.principal import Principal, Scope
from ragworks.domain import TenantView
from ragworks.errors import Forbidden, NotFound

if TYPE_CHECKING:
    from ragworks.engines.store.base import MetadataStore


def require_scope(principal: Principal, scope: Scope) -> None:
    """Forbidden unless the caller's key holds ``scope`` (or a higher one)."""
    if not principal.has_scope(scope):
        raise Forbidden(
            f"this API key lacks the '{scope}' scope",
            details={"required_scope": scope, "key_scopes": sorted(principal.scopes)},
        )


def require_operator(principal: Principal) -> None:
    """Forbidden unless the caller is an operator (an admin key, or auth is off)."""
    if not principal.is_operator:
        raise Forbidden("this needs an admin API key", details={"required_scope": "admin"})


def check_collections(
    store: MetadataStore, principal: Principal, names: Sequence[str], scope: Scope = "read"
) -> None:
    """Return when the caller may use every one of ``names`` with ``scope`` (blocking: one read).

    Raises:
        NotFound: a name that does not exist or that the caller may not see (the same answer).
        Forbidden: the key lacks ``scope``.
    """
    require_scope(principal, scope)
    if principal.is_operator or not names:
        return
    owners = store.collection_tenants(list(names))
    for name in names:
        if name not in owners or not principal.can_see(name, owners[name]):
            raise NotFound(f"collection '{name}' does not exist")


async def require_collections(
    store: MetadataStore, principal: Principal, names: Sequence[str], scope: Scope = "read"
) -> None:
    """:func:`check_collections` off the event loop (and without a thread hop for operators)."""
    require_scope(principal, scope)
    if principal.is_operator or not names:
        return
    await anyio.to_thread.run_sync(check_collections, store, principal, names, scope)


def visible_collection_names(store: MetadataStore, principal: Principal) -> list[str] | None:
    """The names the caller may see, or ``None`` for every collection (an operator); blocking."""
    if principal.is_operator:
        return None
    tenant = principal.owner_for_new
    return [name for name in store.collection_names(tenant) if principal.can_see(name, tenant)]


def tenant_view(store: MetadataStore, principal: Principal) -> TenantView | None:
    """The rows of jobs and events a caller may read (``None``: all of them); blocking."""
    names = visible_collection_names(store, principal)
    if names is None:
        return None
    return TenantView(tenant=principal.owner_for_new, collections=tuple(names))
