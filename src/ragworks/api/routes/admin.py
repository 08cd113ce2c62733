"""Operator endpoints behind the dashboard (``/ui``): jobs overview, live workers, bulk retry of dead jobs.

Everything else the dashboard shows comes from the public endpoints (``/v1/jobs``, ``/v1/collections``,
documents, ``/v1/retrieve``). ``require_operator`` is where an API-key check goes once keys exist: every
route here depends on it, and today it lets every caller through (there is no login page by design).
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from ragworks.api.access import operator_only
from ragworks.api.deps import ContainerDep, JobsDep
from ragworks.api.schemas import JobOut
from ragworks.engines.queue.dashboard import JobOverview, MinutePoint
from ragworks.engines.store.workers import WorkerInfo
from ragworks.services.dashboard import DashboardService

# the dashboard's data: operators only (admin keys, or everyone while auth is off)
router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[Depends(operator_only)])


async def get_dashboard(container: ContainerDep) -> DashboardService:
    """Dashboard use-cases on the container's store."""
    stores = container.core.stores
    return DashboardService(
        dashboard=stores.dashboard,
        workers=stores.workers,
        heartbeat_s=container.settings.jobs.heartbeat_s,
        on_enqueued=container.notify_workers,
    )


DashboardDep = Annotated[DashboardService, Depends(get_dashboard)]


class JobCount(BaseModel):
    kind: str = Field(..., description="Job kind.", examples=["document.ingest"])
    status: str = Field(..., description="Job status.", examples=["dead"])
    count: int = Field(..., description="Jobs of this kind in this status.")


class MinuteOut(BaseModel):
    start: float = Field(..., description="Unix time the bucket starts.")
    created: int = Field(..., description="Jobs accepted in the bucket.")
    succeeded: int = Field(..., description="Jobs that succeeded in the bucket.")
    dead: int = Field(..., description="Jobs that died in the bucket.")
    cancelled: int = Field(..., description="Jobs cancelled in the bucket.")
    depth: int = Field(..., description="Jobs queued, waiting for a retry or running at the bucket's end.")

    @classmethod
    def of(cls, p: MinutePoint) -> MinuteOut:
        return cls(
            start=p.start,
            created=p.created,
            succeeded=p.succeeded,
            dead=p.dead,
            cancelled=p.cancelled,
            depth=p.depth,
        )


class OverviewOut(BaseModel):
    now: float = Field(..., description="Server time of the figures (Unix).")
    counts: list[JobCount] = Field(..., description="Jobs by kind and status (zero counts left out).")
    totals: dict[str, int] = Field(..., description="Jobs by status, every kind together.")
    depth: int = Field(..., description="Jobs queued, waiting for a retry or running now.")
    oldest_waiting_age_s: float | None = Field(
        ..., description="Age of the oldest job queued or waiting for a retry; null when none waits."
    )
    throughput_per_minute: float = Field(
        ..., description="Jobs finished (succeeded or dead) per minute, averaged over the window."
    )
    series: list[MinuteOut] = Field(..., description="The window by bucket, oldest first.")

    @classmethod
    def of(cls, o: JobOverview) -> OverviewOut:
        totals: dict[str, int] = {}
        for (_, status), n in o.counts.items():
            totals[status] = totals.get(status, 0) + n
        finished = sum(p.succeeded + p.dead for p in o.series)
        minutes = len(o.series) * (o.series[1].start - o.series[0].start) / 60 if len(o.series) > 1 else 1.0
        waiting = None if o.oldest_waiting_at is None else max(0.0, o.now - o.oldest_waiting_at)
        return cls(
            now=o.now,
            counts=[JobCount(kind=k, status=s, count=n) for (k, s), n in sorted(o.counts.items())],
            totals=totals,
            depth=o.depth,
            oldest_waiting_age_s=waiting,
            throughput_per_minute=finished / minutes if minutes else 0.0,
            series=[MinuteOut.of(p) for p in o.series],
        )


class RunningJob(BaseModel):
    job_id: str = Field(..., description="The job.")
    kind: str = Field(..., description="Its kind.")
    lane: str = Field(..., description="The worker lane running it.")
    since: float = Field(..., description="Unix time it was leased.")


class WorkerOut(BaseModel):
    owner: str = Field(..., description="Lease owner name of the process (host-pid-random).")
    host: str = Field(..., description="Host name.")
    pid: int = Field(..., description="Process id.")
    role: str = Field(..., description="Process role.")
    lanes: list[str] = Field(..., description="Its job lanes.")
    running: list[RunningJob] = Field(..., description="Jobs it ran at its last heartbeat.")
    started_at: float = Field(..., description="Unix time it started.")
    last_seen: float = Field(..., description="Unix time of its last heartbeat.")

    @classmethod
    def of(cls, w: WorkerInfo) -> WorkerOut:
        running: list[dict[str, Any]] = w.running
        return cls(
            owner=w.owner,
            host=w.host,
            pid=w.pid,
            role=w.role,
            lanes=w.lanes,
            running=[RunningJob.model_validate(j) for j in running],
            started_at=w.started_at,
            last_seen=w.last_seen,
        )


class WorkerList(BaseModel):
    now: float = Field(..., description="Server time (Unix).")
    workers: list[WorkerOut] = Field(..., description="Live workers, oldest start first.")


class JobDetailOut(JobOut):
    payload: dict[str, Any] = Field(..., description="The job's input as stored (what a retry runs again).")


class RetryDeadIn(BaseModel):
    kind: str | None = Field(None, description="Only dead jobs of this kind.", examples=["document.ingest"])
    collection: str | None = Field(None, description="Only dead jobs of this collection.")


class RetryDeadOut(BaseModel):
    retried: int = Field(..., description="Dead jobs queued again, each with a fresh attempt budget.")


@router.get(
    "/overview", response_model=OverviewOut, summary="Jobs by kind and status, queue depth, last hour"
)
async def overview(
    dashboard: DashboardDep,
    window_s: Annotated[float, Query(gt=0, le=86_400, description="Length of the series (s)")] = 3600,
    bucket_s: Annotated[float, Query(ge=10, le=3600, description="Length of one bucket (s)")] = 60,
) -> OverviewOut:
    return OverviewOut.of(await dashboard.overview(window_s, bucket_s))


@router.get("/workers", response_model=WorkerList, summary="Live workers and the jobs each runs")
async def live_workers(
    dashboard: DashboardDep,
    within_s: Annotated[
        float | None, Query(gt=0, description="Seen within this many seconds (default 3 heartbeats)")
    ] = None,
) -> WorkerList:
    found = await dashboard.live_workers(within_s)
    return WorkerList(now=time.time(), workers=[WorkerOut.of(w) for w in found])


@router.get("/jobs/{job_id}", response_model=JobDetailOut, summary="One job with its stored payload")
async def job_detail(job_id: str, jobs: JobsDep) -> JobDetailOut:
    job = await jobs.get(job_id)
    return JobDetailOut(**JobOut.of(job).model_dump(), payload=job.payload)


@router.post("/jobs/retry-dead", response_model=RetryDeadOut, summary="Replay every dead job (in batches)")
async def retry_dead(dashboard: DashboardDep, body: RetryDeadIn | None = None) -> RetryDeadOut:
    filters = body or RetryDeadIn()
    return RetryDeadOut(retried=await dashboard.retry_dead(filters.kind, filters.collection))
