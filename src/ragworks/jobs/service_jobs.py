"""The ``service.run`` handler: runs background AI service calls; the output becomes the job result."""

from __future__ import annotations

from dataclasses import dataclass

from ragworks.domain import Job, JobKind, JobResults
from ragworks.jobs.worker import Handler, JobContext
from ragworks.observability.logging import request_id_var
from ragworks.services.runner import ServiceRunner


@dataclass(slots=True)
class ServiceJobs:
    """Runs each job's service with its stored input (logged under the request id that submitted it)."""

    runner: ServiceRunner

    def handlers(self) -> dict[str, Handler]:
        """The registry entries this class provides."""
        return {JobKind.SERVICE_RUN: self.run}

    async def run(self, jobs: list[Job], _ctx: JobContext) -> JobResults:
        """Run the calls one after another (a lane holds one job at a time)."""
        results: JobResults = {}
        for job in jobs:
            request_id = job.payload.get("request_id")
            token = request_id_var.set(request_id)
            try:
                service = self.runner.registry.get(str(job.payload.get("service")))
                data = service.parse(job.payload.get("input") or {})
                output = await self.runner.run(service, data, request_id=request_id, mode="background")
                results[job.id] = output.model_dump(mode="json")
            except Exception as exc:  # the job fails with the reason; the lane goes on
                results[job.id] = exc
            finally:
                request_id_var.reset(token)
        return results
