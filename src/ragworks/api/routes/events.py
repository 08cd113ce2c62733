"""Events: the history of job and document outcomes (what webhooks and the event stream receive)."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from ragworks.api.access import TenantViewDep, read_scope
from ragworks.api.deps import ContainerDep
from ragworks.api.schemas import MAX_INT64
from ragworks.engines.queue.base import EventLog
from ragworks.engines.queue.outbox import Event

router = APIRouter(prefix="/v1/events", tags=["events"], dependencies=[Depends(read_scope)])


async def get_event_log(container: ContainerDep) -> EventLog:
    """The event history of the store's database."""
    return container.core.stores.events


EventLogDep = Annotated[EventLog, Depends(get_event_log)]


class EventOut(BaseModel):
    event_id: int = Field(..., description="Increasing, never reused: page with after=<event_id>.")
    kind: str = Field(..., description="job.succeeded, job.dead, document.indexed, document.failed, ...")
    collection: str | None
    document_id: str | None
    job_id: str | None
    created_at: float
    data: dict[str, Any] = Field(..., description="The result or the error the event reports.")

    @classmethod
    def of(cls, event: Event) -> EventOut:
        """The HTTP shape of a stored event (the same body webhooks receive)."""
        return cls(**event.body())


class EventPage(BaseModel):
    events: list[EventOut]
    next_after: int | None = Field(
        None, description="With after=: the cursor of the next page (None when this page was not full)."
    )


@router.get("", response_model=EventPage, summary="List events, newest first or after a cursor")
async def list_events(
    events: EventLogDep,
    view: TenantViewDep,  # None: an operator sees every tenant's
    after: Annotated[
        int | None, Query(ge=0, le=MAX_INT64, description="Only events after this id, oldest first")
    ] = None,
    kind: Annotated[str | None, Query(description="e.g. document.indexed")] = None,
    collection: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> EventPage:
    found = await anyio.to_thread.run_sync(
        lambda: events.list_events(after=after, kind=kind, collection=collection, limit=limit, view=view)
    )
    next_after = found[-1].id if after is not None and len(found) == limit else None
    return EventPage(events=[EventOut.of(e) for e in found], next_after=next_after)
