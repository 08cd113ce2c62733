"""``/v1/admin/keys``: operators make, list and revoke API keys over HTTP (as ``ragworks keys`` does)."""

from __future__ import annotations

from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from ragworks.api.access import operator_only
from ragworks.api.deps import ContainerDep
from ragworks.api.schemas import ErrorResponse
from ragworks.auth.admin import MAX_NAME_CHARS, KeyAdmin, KeyRequest
from ragworks.auth.keys import ApiKey, KeyState
from ragworks.auth.wiring import key_store_for

KEY_ID = r"^[0-9a-f]{12}$"
TENANT = r"^[a-z0-9][a-z0-9_.-]{0,63}$"


async def get_key_admin(container: ContainerDep) -> KeyAdmin:
    """Key use-cases on the container's database."""
    return KeyAdmin(key_store_for(container.core.stores))


KeyAdminDep = Annotated[KeyAdmin, Depends(get_key_admin)]

router = APIRouter(
    prefix="/v1/admin/keys",
    tags=["admin"],
    dependencies=[Depends(operator_only)],  # admin keys only (403 otherwise)
    responses={
        401: {"model": ErrorResponse, "description": "No API key, or an invalid one"},
        403: {"model": ErrorResponse, "description": "Not an admin key"},
    },
)


class KeyCreate(BaseModel):
    """A new key: a tenant's (``read`` or ``write``, optionally limited to collections) or an admin's."""

    name: str = Field(..., min_length=1, max_length=MAX_NAME_CHARS, description="What the key is for.")
    tenant: str | None = Field(None, pattern=TENANT, description="The tenant it acts for (not with admin).")
    scope: Literal["read", "write"] | None = Field(None, description="A tenant key's scope; default read.")
    collections: list[str] | None = Field(
        None, min_length=1, max_length=1000, description="Limit a tenant key to these collections."
    )
    admin: bool = Field(False, description="An operator's key: every tenant, the dashboard, /metrics.")
    expires_in_days: float | None = Field(None, gt=0, le=36_500, description="Expire after this many days.")


class KeyOut(BaseModel):
    id: str = Field(..., description="The key's public id (the part after rw_).", examples=["3f9c0a1b2d4e"])
    name: str
    tenant: str | None = Field(..., description="Null for an admin key.")
    scopes: list[str]
    collections: list[str] | None = Field(..., description="Null: every collection of the tenant.")
    created_at: float
    expires_at: float | None
    last_used_at: float | None = Field(..., description="Last use, to the minute.")
    revoked_at: float | None
    state: KeyState

    @classmethod
    def of(cls, key: ApiKey, now: float) -> KeyOut:
        return cls(
            id=key.id,
            name=key.name,
            tenant=key.tenant,
            scopes=list(key.scopes),
            collections=list(key.collections) if key.collections is not None else None,
            created_at=key.created_at,
            expires_at=key.expires_at,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
            state=key.state(now),
        )


class KeyCreated(KeyOut):
    key: str = Field(..., description="The full key, shown this once: store it now.")


class KeyList(BaseModel):
    keys: list[KeyOut]


@router.post("", status_code=201, response_model=KeyCreated, summary="Make an API key (shown once)")
async def create_key(body: KeyCreate, keys: KeyAdminDep) -> KeyCreated:
    request = KeyRequest(
        name=body.name,
        tenant=body.tenant,
        scope=body.scope,
        collections=body.collections,
        admin=body.admin,
        expires_in_days=body.expires_in_days,
    )
    key, full_key = await anyio.to_thread.run_sync(keys.create, request)
    return KeyCreated(**KeyOut.of(key, keys.clock()).model_dump(), key=full_key)


@router.get("", response_model=KeyList, summary="List API keys (never their secrets)")
async def list_keys(
    keys: KeyAdminDep,
    tenant: Annotated[str | None, Query(pattern=TENANT, description="Only this tenant's.")] = None,
) -> KeyList:
    found = await anyio.to_thread.run_sync(keys.list, tenant)
    now = keys.clock()
    return KeyList(keys=[KeyOut.of(key, now) for key in found])


@router.delete("/{key_id}", response_model=KeyOut, summary="Revoke an API key")
async def revoke_key(key_id: Annotated[str, Path(pattern=KEY_ID)], keys: KeyAdminDep) -> KeyOut:
    revoked = await anyio.to_thread.run_sync(keys.revoke, key_id)
    return KeyOut.of(revoked, keys.clock())
