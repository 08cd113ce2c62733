"""The outbox: events and their deliveries, written in the transaction that records a job's outcome.

When a job ends (``succeeded``, or ``dead`` after its last attempt) the queue adapter calls
``record_outcomes`` inside the same transaction as the status change. It appends the job's events to
the ``events`` table (the history readers page through) and inserts one delivery job per destination
the ``DeliveryRouter`` names (a callback, a webhook, a stream). A crash either keeps the outcome with
every delivery it owes, or neither: no delivery is lost between the commit and an enqueue, and none is
made for an outcome that was never stored (a lost lease records nothing).
"""

from __future__ import annotations

import enum
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Connection, insert

from ragworks.domain import Job, JobKind, JobStatus
from ragworks.engines.queue.job_rows import job_row
from ragworks.engines.store.schema import events, jobs

# The status code of a failure that was not a RagworksError (an unexpected exception).
DEFAULT_STATUS_CODE = 500
# Ingest results that mean the version was not (and will not be) indexed by this job.
_NOT_INDEXED = frozenset({"superseded by a newer version", "document deleted"})


class EventKind(enum.StrEnum):
    JOB_SUCCEEDED = "job.succeeded"
    JOB_DEAD = "job.dead"
    DOCUMENT_INDEXED = "document.indexed"
    DOCUMENT_FAILED = "document.failed"
    DOCUMENT_DELETED = "document.deleted"


@dataclass(frozen=True, slots=True)
class Event:
    """One stored event: what happened (``kind``), to what, when, and its details (``data``)."""

    id: int
    kind: str
    job_id: str | None
    collection: str | None
    document_id: str | None
    data: dict[str, Any]
    created_at: float

    def body(self) -> dict[str, Any]:
        """The event as receivers get it (webhooks, streams, ``GET /v1/events``)."""
        return {
            "event_id": self.id,
            "kind": self.kind,
            "collection": self.collection,
            "document_id": self.document_id,
            "job_id": self.job_id,
            "created_at": self.created_at,
            "data": self.data,
        }


@dataclass(frozen=True, slots=True)
class Delivery:
    """A delivery job to enqueue with the outcome: its kind (``callback.deliver``, ``stream.publish``)
    and payload."""

    kind: str
    payload: dict[str, Any]
    max_attempts: int


class DeliveryRouter(Protocol):
    """Decides who is told about a finished job (pure: no I/O, it runs inside the transaction)."""

    def deliveries(self, job: Job, job_events: Sequence[Event]) -> list[Delivery]:
        """The delivery jobs owed for ``job`` (as stored, just finished) and its stored events."""
        ...


def failure_status_code(job: Job) -> int:
    """The HTTP-style status of a failed job's last error (recorded in its history by the worker)."""
    last = job.history[-1] if job.history else {}
    code = last.get("status_code")
    return int(code) if isinstance(code, int) else DEFAULT_STATUS_CODE


def job_error(job: Job) -> dict[str, Any]:
    """The last error of a failed job: code, message and status code."""
    return {"code": job.error_type, "message": job.error_message, "status_code": failure_status_code(job)}


def events_of(job: Job) -> list[tuple[str, dict[str, Any]]]:
    """The (kind, data) of each event a finished job makes: ``job.succeeded`` or ``job.dead`` for every
    job, and what it means for its document."""
    summary: dict[str, Any] = {
        "kind": job.kind,
        "service": job.payload.get("service"),
        "status": str(job.status),
        "attempts": job.attempts,
    }
    if job.status == JobStatus.SUCCEEDED:
        made = [(EventKind.JOB_SUCCEEDED.value, {**summary, "result": job.result})]
        result = job.result or {}
        if job.kind == JobKind.INGEST and result.get("skipped") not in _NOT_INDEXED:
            made.append((EventKind.DOCUMENT_INDEXED.value, dict(result)))
        elif job.kind == JobKind.DELETE:
            made.append((EventKind.DOCUMENT_DELETED.value, dict(result)))
        return made
    if job.status == JobStatus.DEAD:
        error = job_error(job)
        made = [(EventKind.JOB_DEAD.value, {**summary, "error": error})]
        if job.kind == JobKind.INGEST:
            made.append(
                (EventKind.DOCUMENT_FAILED.value, {"version": job.payload.get("version"), "error": error})
            )
        return made
    return []


def record_outcomes(conn: Connection, router: DeliveryRouter | None, finished: Sequence[Job]) -> int:
    """Insert the events of ``finished`` jobs and, with a router, their delivery jobs, inside the
    caller's transaction; returns how many delivery jobs were enqueued."""
    now = time.time()
    drafts = [(job, kind, data) for job in finished for kind, data in events_of(job)]
    stored: dict[str, list[Event]] = {job.id: [] for job in finished}
    if drafts:
        rows = [
            {
                "kind": kind,
                "job_id": job.id,
                "collection": job.collection,
                "document_id": job.document_id,
                "payload": data,
                "created_at": now,
                "tenant": job.tenant,
            }
            for job, kind, data in drafts
        ]
        statement = insert(events).returning(events.c.id, sort_by_parameter_order=True)
        ids = conn.execute(statement, rows).scalars().all()
        for (job, kind, data), event_id in zip(drafts, ids, strict=True):
            event = Event(int(event_id), kind, job.id, job.collection, job.document_id, data, now)
            stored[job.id].append(event)
    if router is None:
        return 0
    owed = [(job, d) for job in finished for d in router.deliveries(job, stored[job.id])]
    if owed:
        rows = [
            job_row(kind=d.kind, payload=d.payload, max_attempts=d.max_attempts, tenant=job.tenant)
            for job, d in owed
        ]
        conn.execute(insert(jobs), rows)
    return len(owed)
