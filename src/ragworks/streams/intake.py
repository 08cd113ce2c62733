"""What a stream consumer asks of the platform: accept and delete documents, enqueue service calls, and
say how deep the ingest queue is. Only the store and the queue: a consumer loads no model and no index."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import anyio

from ragworks.domain import DEFAULT_TENANT, JobKind, JobStatus
from ragworks.engines.queue.base import JobAdmin, JobQueue
from ragworks.engines.store.base import MetadataStore
from ragworks.errors import Conflict, NotFound
from ragworks.services.documents import DocumentService
from ragworks.services.registry import ServiceRegistry

_WAITING = (JobStatus.QUEUED, JobStatus.FAILED)


@dataclass
class Intake:
    """Document intake, service requests and the queue depth, over the shared store."""

    documents: DocumentService
    store: MetadataStore
    queue: JobQueue
    admin: JobAdmin
    registry: ServiceRegistry
    max_attempts: int

    def check_service(self, name: str, data: dict[str, Any]) -> dict[str, Any]:
        """The service's input, validated as its HTTP endpoint would (NotFound, InvalidInput)."""
        service = self.registry.get(name)
        return dict(service.parse(data).model_dump(mode="json"))

    async def request_service(
        self, job_id: str, service: str, data: dict[str, Any], reply: dict[str, Any]
    ) -> None:
        """Enqueue the call as job ``job_id`` unless that job exists (the request was delivered before)."""
        payload = {"service": service, "input": data, "request_id": None, "reply": reply}

        def enqueue() -> None:
            if self._job_exists(job_id):
                return
            # Conflict: enqueued meanwhile by another delivery of the same message
            with contextlib.suppress(Conflict):
                self.queue.enqueue(
                    JobKind.SERVICE_RUN, payload, max_attempts=self.max_attempts, job_id=job_id
                )

        await anyio.to_thread.run_sync(enqueue)

    def _job_exists(self, job_id: str) -> bool:
        try:
            self.admin.get(job_id)
        except NotFound:
            return False
        return True

    async def waiting_ingest_jobs(self) -> int:
        """Ingest jobs waiting for a worker (queued, or failed and due again)."""
        counts = await anyio.to_thread.run_sync(self.admin.counts)
        return sum(n for (kind, status), n in counts.items() if kind == JobKind.INGEST and status in _WAITING)

    async def ensure_collection(self, name: str, tenant: str = DEFAULT_TENANT) -> None:
        """Create the collection, owned by ``tenant``, unless it exists."""

        def ensure() -> None:
            try:
                self.store.get_collection(name)
            except NotFound:
                with contextlib.suppress(Conflict):  # created meanwhile by another consumer
                    self.store.create_collection(name, "auto", "", tenant)

        await anyio.to_thread.run_sync(ensure)
