"""Job use-cases: watch, list, replay, cancel, each as one caller may see them.

A tenant's key sees the jobs of its collections and the service calls it made; any other job id
answers 404, as a missing one does. Retry and cancel need the write scope.
"""

from __future__ import annotations

from dataclasses import dataclass

import anyio

from ragworks.auth.access import require_scope, tenant_view
from ragworks.auth.principal import LOCAL, Principal, Scope
from ragworks.domain import Job
from ragworks.engines.queue.base import JobAdmin
from ragworks.engines.store.base import MetadataStore
from ragworks.errors import NotFound


@dataclass(slots=True)
class JobService:
    """What clients may do with jobs."""

    admin: JobAdmin
    store: MetadataStore

    async def get(self, job_id: str, principal: Principal = LOCAL) -> Job:
        """One job; NotFound when missing or not the caller's."""
        return await anyio.to_thread.run_sync(self._visible_job, job_id, principal, "read")

    async def list(
        self,
        *,
        status: str | None,
        kind: str | None,
        collection: str | None,
        limit: int,
        before: float | None,
        since: float | None = None,
        principal: Principal = LOCAL,
    ) -> list[Job]:
        """Jobs newest first (``status="dead"`` is the dead-letter list), created in [since, before)."""
        require_scope(principal, "read")

        def read() -> list[Job]:
            view = tenant_view(self.store, principal)
            return self.admin.list(
                status=status,
                kind=kind,
                collection=collection,
                limit=limit,
                before=before,
                since=since,
                view=view,
            )

        return await anyio.to_thread.run_sync(read)

    async def retry(self, job_id: str, principal: Principal = LOCAL) -> Job:
        """Replay a dead, failed or cancelled job now."""

        def replay() -> Job:
            self._visible_job(job_id, principal, "write")
            return self.admin.retry(job_id)  # retry wakes the workers

        return await anyio.to_thread.run_sync(replay)

    async def cancel(self, job_id: str, principal: Principal = LOCAL) -> Job:
        """Cancel a job that has not finished."""

        def stop() -> Job:
            self._visible_job(job_id, principal, "write")
            return self.admin.cancel(job_id)

        return await anyio.to_thread.run_sync(stop)

    def _visible_job(self, job_id: str, principal: Principal, scope: Scope) -> Job:
        require_scope(principal, scope)
        job = self.admin.get(job_id)
        if principal.is_operator or job_visible(self.store, principal, job):
            return job
        raise NotFound(f"job '{job_id}' does not exist")


def job_visible(store: MetadataStore, principal: Principal, job: Job) -> bool:
    """Whether a tenant's key may see ``job`` (its own service call, or a job of its collection)."""
    if job.collection is None:
        return job.tenant is not None and job.tenant == principal.tenant
    owner = store.collection_tenants([job.collection]).get(job.collection)
    return owner is not None and principal.can_see(job.collection, owner)
