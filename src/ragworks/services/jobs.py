"""Job use-cases: watch, list, replay, cancel."""

from __future__ import annotations

from dataclasses import dataclass

import anyio

from ragworks.domain import Job
from ragworks.engines.queue.base import JobAdmin


@dataclass(slots=True)
class JobService:
    """What clients may do with jobs."""

    admin: JobAdmin

    async def get(self, job_id: str) -> Job:
        """One job; NotFound when missing."""
        return await anyio.to_thread.run_sync(self.admin.get, job_id)

    async def list(
        self,
        *,
        status: str | None,
        kind: str | None,
        collection: str | None,
        limit: int,
        before: float | None,
        since: float | None = None,
    ) -> list[Job]:
        """Jobs newest first (``status="dead"`` is the dead-letter list), created in [since, before)."""
        return await anyio.to_thread.run_sync(
            lambda: self.admin.list(
                status=status, kind=kind, collection=collection, limit=limit, before=before, since=since
            )
        )

    async def retry(self, job_id: str) -> Job:
        """Replay a dead, failed or cancelled job now."""
        return await anyio.to_thread.run_sync(self.admin.retry, job_id)  # retry wakes the workers

    async def cancel(self, job_id: str) -> Job:
        """Cancel a job that has not finished."""
        return await anyio.to_thread.run_sync(self.admin.cancel, job_id)
