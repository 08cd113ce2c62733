"""Collection use-cases: create, list, delete (store rows and index together)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import anyio

from ragworks.domain import Collection
from ragworks.errors import BadRequest

if TYPE_CHECKING:
    from ragworks.container import Container

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
LANGUAGES = ("auto", "en", "ko")


class CollectionService:
    """Collections of one instance."""

    def __init__(self, container: Container) -> None:
        self.container = container

    async def create(self, name: str, language: str, description: str) -> Collection:
        """Create a collection; BadRequest for an invalid name, Conflict when it exists."""
        if not NAME.match(name):
            raise BadRequest(
                f"invalid collection name {name!r}: 1-64 of a-z, 0-9, '_' and '-', starting with a letter or digit"
            )
        if language not in LANGUAGES:
            raise BadRequest(f"language must be one of {', '.join(LANGUAGES)}")
        return await anyio.to_thread.run_sync(
            self.container.store.create_collection, name, language, description
        )

    async def list(self) -> list[Collection]:
        """All collections with counts."""
        return await anyio.to_thread.run_sync(self.container.store.list_collections)

    async def get(self, name: str) -> Collection:
        """One collection; NotFound when missing."""
        return await anyio.to_thread.run_sync(self.container.store.get_collection, name)

    async def delete(self, name: str) -> None:
        """Delete the collection's records and its index."""
        await anyio.to_thread.run_sync(self._delete, name)

    def _delete(self, name: str) -> None:
        with self.container.search.index_lock:
            self.container.store.delete_collection(name)
            self.container.index.drop_collection(name)
