"""Collections: each belongs to a tenant, and a key sees only its tenant's (and its grants)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from ragworks.api.access import PrincipalDep
from ragworks.api.deps import CollectionsDep
from ragworks.api.schemas import CollectionCreate, CollectionList, CollectionOut

router = APIRouter(prefix="/v1/collections", tags=["collections"])


@router.post("", status_code=201, response_model=CollectionOut, summary="Create a collection")
async def create_collection(
    body: CollectionCreate, collections: CollectionsDep, principal: PrincipalDep
) -> CollectionOut:
    created = await collections.create(
        body.name, body.language, body.description, principal=principal, tenant=body.tenant
    )
    return CollectionOut.of(created)


@router.get("", response_model=CollectionList, summary="List the collections this key may see")
async def list_collections(collections: CollectionsDep, principal: PrincipalDep) -> CollectionList:
    return CollectionList(collections=[CollectionOut.of(c) for c in await collections.list(principal)])


@router.get("/{name}", response_model=CollectionOut, summary="One collection with counts")
async def get_collection(name: str, collections: CollectionsDep, principal: PrincipalDep) -> CollectionOut:
    return CollectionOut.of(await collections.get(name, principal))


@router.delete("/{name}", status_code=204, summary="Delete a collection, its documents and index")
async def delete_collection(name: str, collections: CollectionsDep, principal: PrincipalDep) -> Response:
    await collections.delete(name, principal)
    return Response(status_code=204)
