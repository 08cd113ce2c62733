"""The event history on SQL (the ``events`` table the outbox writes): listing and the retention purge."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, delete, select

from ragworks.domain import TenantView
from ragworks.engines.queue.outbox import Event
from ragworks.engines.store.schema import events
from ragworks.engines.store.tenancy import visible_to


def event_from_row(row: Row[Any]) -> Event:
    """An Event from an ``events`` row."""
    m = row._mapping
    return Event(
        id=int(m["id"]),
        kind=m["kind"],
        job_id=m["job_id"],
        collection=m["collection"],
        document_id=m["document_id"],
        data=dict(m["payload"] or {}),
        created_at=m["created_at"],
    )


class SqlEventLog:
    """Events in the metadata database (see ``EventLog``)."""

    def __init__(self, db: Any) -> None:
        self.db = db

    def list_events(
        self,
        *,
        after: int | None = None,
        kind: str | None = None,
        collection: str | None = None,
        limit: int = 50,
        view: TenantView | None = None,
    ) -> list[Event]:
        """Events after the cursor ``after`` (oldest first), or the newest first without one; with
        ``view``, only that tenant's."""
        query = select(events)
        if view is not None:
            query = query.where(visible_to(events, view))
        for column, value in ((events.c.kind, kind), (events.c.collection, collection)):
            if value is not None:
                query = query.where(column == value)
        if after is not None:
            query = query.where(events.c.id > after).order_by(events.c.id)
        else:
            query = query.order_by(events.c.id.desc())
        with self.db.reader.connect() as conn:
            return [event_from_row(r) for r in conn.execute(query.limit(limit))]

    def purge_events(self, before: float, limit: int) -> int:
        """Delete up to ``limit`` of the oldest events created before ``before`` (a short transaction
        each, so a large purge never holds the write lock for long)."""
        oldest = select(events.c.id).where(events.c.created_at < before).order_by(events.c.id).limit(limit)
        with self.db.writer.begin() as conn:
            return int(conn.execute(delete(events).where(events.c.id.in_(oldest))).rowcount)
