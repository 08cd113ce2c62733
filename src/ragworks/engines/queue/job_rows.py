"""New ``jobs`` rows, inserted inside the caller's transaction (document intake, the outbox, enqueue)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from sqlalchemy import Connection, insert

from ragworks.domain import JobStatus
from ragworks.engines.store.schema import jobs


def insert_job(conn: Connection, **fields: Any) -> str:
    """Insert a queued job (see ``job_row`` for the fields) inside the caller's transaction; returns its id."""
    row = job_row(**fields)
    conn.execute(insert(jobs).values(**row))
    return str(row["id"])


def job_row(
    *,
    kind: str,
    payload: dict[str, Any],
    collection: str | None = None,
    document_id: str | None = None,
    max_attempts: int = 4,
    callback_url: str | None = None,
    job_id: str | None = None,
    tenant: str | None = None,
) -> dict[str, Any]:
    """The ``jobs`` row of a new queued job (callers may insert many at once); its id is ``job_id``
    (at most 32 characters: a caller that derives ids makes a re-delivered request name the same job)
    or a fresh one."""
    now = time.time()
    return {
        "id": job_id or uuid.uuid4().hex,
        "kind": kind,
        "status": JobStatus.QUEUED,
        "payload": payload,
        "collection": collection,
        "document_id": document_id,
        "attempts": 0,
        "max_attempts": max_attempts,
        "next_run_at": now,
        "progress": 0.0,
        "callback_url": callback_url,
        "history": [],
        "created_at": now,
        "updated_at": now,
        "tenant": tenant,
    }
