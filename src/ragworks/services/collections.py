"""Collection use-cases: create, list, delete (store rows and index together), per tenant."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import anyio

from ragworks.auth.access import check_collections, require_operator, require_scope
from ragworks.auth.principal import LOCAL, Principal
from ragworks.domain import Collection
from ragworks.errors import BadRequest, Forbidden

if TYPE_CHECKING:
    from ragworks.container import Container

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
TENANT = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
LANGUAGES = ("auto", "en", "ko")


class CollectionService:
    """Collections of one instance, as one caller sees them."""

    def __init__(self, container: Container) -> None:
        self.container = container

    async def create(
        self,
        name: str,
        language: str,
        description: str,
        *,
        principal: Principal = LOCAL,
        tenant: str | None = None,
    ) -> Collection:
        """Create a collection owned by ``tenant`` (operators) or the caller's tenant.

        Raises:
            BadRequest: an invalid name, language or tenant.
            Forbidden: no write scope, a key limited to named collections, or a tenant key naming
                another tenant.
            Conflict: the name is taken (by any tenant).
        """
        require_scope(principal, "write")
        if principal.collections is not None and not principal.is_operator:
            raise Forbidden("this API key is limited to named collections and cannot create others")
        if tenant is not None and tenant != principal.tenant:
            require_operator(principal)
        owner = tenant or principal.owner_for_new
        if not NAME.match(name):
            raise BadRequest(
                f"invalid collection name {name!r}: 1-64 of a-z, 0-9, '_' and '-', starting with a letter or digit"
            )
        if not TENANT.match(owner):
            raise BadRequest(f"invalid tenant {owner!r}: 1-64 of a-z, 0-9, '_', '.' and '-'")
        if language not in LANGUAGES:
            raise BadRequest(f"language must be one of {', '.join(LANGUAGES)}")
        return await anyio.to_thread.run_sync(
            self.container.store.create_collection, name, language, description, owner
        )

    async def list(self, principal: Principal = LOCAL) -> list[Collection]:
        """The collections the caller may see, with counts."""
        require_scope(principal, "read")
        if principal.is_operator:
            return await anyio.to_thread.run_sync(self.container.store.list_collections)
        own = await anyio.to_thread.run_sync(self.container.store.list_collections, principal.tenant)
        return [c for c in own if principal.can_see(c.name, c.tenant)]

    async def get(self, name: str, principal: Principal = LOCAL) -> Collection:
        """One collection; NotFound when missing or not the caller's."""
        return await anyio.to_thread.run_sync(self._get, name, principal)

    def _get(self, name: str, principal: Principal) -> Collection:
        check_collections(self.container.store, principal, [name], "read")
        return self.container.store.get_collection(name)

    async def delete(self, name: str, principal: Principal = LOCAL) -> None:
        """Delete the collection's records and its index (write scope)."""
        await anyio.to_thread.run_sync(self._delete, name, principal)

    def _delete(self, name: str, principal: Principal) -> None:
        check_collections(self.container.store, principal, [name], "write")
        with self.container.search.index_lock:
            self.container.store.delete_collection(name)
            self.container.index.drop_collection(name)
