"""Background service calls: accepted as a ``service.run`` job whose result lands in the job."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio
from pydantic import BaseModel

from ragworks.domain import JobKind
from ragworks.engines.queue.base import JobQueue
from ragworks.services.base import Service


@dataclass(slots=True)
class BackgroundCalls:
    """Enqueues service calls; a worker lane runs them (see ``jobs/service_jobs.py``)."""

    queue: JobQueue
    max_attempts: int

    async def submit(
        self,
        service: Service[Any, Any],
        data: BaseModel,
        *,
        callback_url: str | None,
        request_id: str | None,
        tenant: str | None = None,
    ) -> str:
        """Enqueue one call for ``tenant``'s key (``None``: an operator); returns the job id. The
        input is stored already validated."""
        payload = {"service": service.name, "input": data.model_dump(mode="json"), "request_id": request_id}
        # enqueue announces the job to the workers itself
        return await anyio.to_thread.run_sync(
            lambda: self.queue.enqueue(
                JobKind.SERVICE_RUN,
                payload,
                max_attempts=self.max_attempts,
                callback_url=callback_url,
                tenant=tenant,
            )
        )
