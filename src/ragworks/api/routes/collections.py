"""Collections."""

from __future__ import annotations

from fastapi import APIRouter, Response

from ragworks.api.deps import CollectionsDep
from ragworks.api.schemas import CollectionCreate, CollectionList, CollectionOut

router = APIRouter(prefix="/v1/collections", tags=["collections"])


@router.post("", status_code=201, response_model=CollectionOut, summary="Create a collection")
async def create_collection(body: CollectionCreate, collections: CollectionsDep) -> CollectionOut:
    return CollectionOut.of(await collections.create(body.name, body.language, body.description))


@router.get("", response_model=CollectionList, summary="List collections")
async def list_collections(collections: CollectionsDep) -> CollectionList:
    return CollectionList(collections=[CollectionOut.of(c) for c in await collections.list()])


@router.get("/{name}", response_model=CollectionOut, summary="One collection with counts")
async def get_collection(name: str, collections: CollectionsDep) -> CollectionOut:
    return CollectionOut.of(await collections.get(name))


@router.delete("/{name}", status_code=204, summary="Delete a collection, its documents and index")
async def delete_collection(name: str, collections: CollectionsDep) -> Response:
    await collections.delete(name)
    return Response(status_code=204)
