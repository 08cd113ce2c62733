"""The caller of a request as a route dependency (see ragworks.auth.access for the checks)."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import Depends, Request

from ragworks.auth.access import require_collections, require_operator, require_scope, tenant_view
from ragworks.auth.principal import LOCAL, Principal, Scope
from ragworks.domain import TenantView


async def get_principal(request: Request) -> Principal:
    """The caller, as the auth middleware found it (``LOCAL`` where no middleware ran)."""
    principal: Principal = getattr(request.state, "principal", LOCAL)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def collection_in_path(name: str, request: Request, principal: PrincipalDep) -> None:
    """Router dependency for ``/v1/collections/{name}/...``: reads need 'read', changes 'write';
    a collection the caller may not see is a 404 before any body is read."""
    if principal.is_operator:
        return
    scope: Scope = "read" if request.method in ("GET", "HEAD") else "write"
    await require_collections(request.app.state.container.store, principal, [name], scope)


async def read_scope(principal: PrincipalDep) -> None:
    """Router dependency: every route needs at least the 'read' scope."""
    require_scope(principal, "read")


async def operator_only(principal: PrincipalDep) -> None:
    """Router dependency: only operators (admin keys, or auth off)."""
    require_operator(principal)


async def get_tenant_view(request: Request, principal: PrincipalDep) -> TenantView | None:
    """The jobs and events rows the caller may read; ``None`` (everything) for operators."""
    if principal.is_operator:
        return None
    store = request.app.state.container.store
    return await anyio.to_thread.run_sync(tenant_view, store, principal)


TenantViewDep = Annotated[TenantView | None, Depends(get_tenant_view)]
