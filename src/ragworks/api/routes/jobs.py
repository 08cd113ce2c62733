"""Jobs: watch, list (the dead-letter list is ?status=dead), retry, cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ragworks.api.access import PrincipalDep
from ragworks.api.deps import JobsDep
from ragworks.api.schemas import JobOut, JobPage

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


@router.get("", response_model=JobPage, summary="List jobs, newest first")
async def list_jobs(
    jobs: JobsDep,
    principal: PrincipalDep,
    status: Annotated[
        str | None, Query(description="queued, running, succeeded, failed, dead, cancelled")
    ] = None,
    kind: Annotated[str | None, Query(description="e.g. document.ingest")] = None,
    collection: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[
        float | None, Query(allow_inf_nan=False, description="next_cursor of the previous page")
    ] = None,
    since: Annotated[float | None, Query(description="Only jobs created at or after (Unix time)")] = None,
    until: Annotated[float | None, Query(description="Only jobs created before (Unix time)")] = None,
) -> JobPage:
    bounds = [t for t in (cursor, until) if t is not None]
    before = min(bounds) if bounds else None
    found = await jobs.list(
        status=status,
        kind=kind,
        collection=collection,
        limit=limit,
        before=before,
        since=since,
        principal=principal,
    )
    next_cursor = repr(found[-1].created_at) if len(found) == limit else None
    return JobPage(jobs=[JobOut.of(j) for j in found], next_cursor=next_cursor)


@router.get("/{job_id}", response_model=JobOut, summary="One job: status, progress, error, result")
async def get_job(job_id: str, jobs: JobsDep, principal: PrincipalDep) -> JobOut:
    return JobOut.of(await jobs.get(job_id, principal))


@router.post("/{job_id}/retry", response_model=JobOut, summary="Replay a dead, failed or cancelled job")
async def retry_job(job_id: str, jobs: JobsDep, principal: PrincipalDep) -> JobOut:
    return JobOut.of(await jobs.retry(job_id, principal))


@router.post("/{job_id}/cancel", response_model=JobOut, summary="Cancel a job that has not finished")
async def cancel_job(job_id: str, jobs: JobsDep, principal: PrincipalDep) -> JobOut:
    return JobOut.of(await jobs.cancel(job_id, principal))
