"""A worker lane outlives a store that fails while the outcomes of its jobs are recorded.

When PostgreSQL restarts or the data disk fills up between a handler's work and the recording of its
outcome, the lane must not die with the error: the jobs it held keep their lease until it expires and
run again (handlers are idempotent), and later jobs still run. The failure is injected by a queue
whose ``complete_many`` raises ``NotReady`` once, because that moment is too short to hit reliably
with a real server; tests/faults/test_postgres_restart.py kills a real one under load.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest

from ragworks.config import JobSettings
from ragworks.domain import Job, JobResults, JobStatus
from ragworks.engines.queue.sql import SqlJobQueue
from ragworks.engines.store.sql import SqlDatabase
from ragworks.errors import NotReady
from ragworks.jobs.worker import JobContext, Lane, Worker
from ragworks.observability.metrics import Metrics

pytestmark = pytest.mark.anyio

KIND = "test.work"
SETTINGS = JobSettings(poll_interval_s=0.05, heartbeat_s=0.05, lease_s=0.5)


class StoreGoneOnce(SqlJobQueue):
    """A queue whose first ``complete_many`` fails as an unreachable database does."""

    failed = False

    def complete_many(self, owner: str, results: dict[str, dict[str, Any]]) -> set[str]:
        if not self.failed:
            self.failed = True
            raise NotReady("the database cannot be reached; retry shortly")
        return super().complete_many(owner, results)


async def _finished(queue: SqlJobQueue, job_id: str, timeout_s: float = 10.0) -> Job:
    with anyio.fail_after(timeout_s):
        while True:
            job = queue.get(job_id)
            if job.status.finished:
                return job
            await anyio.sleep(0.02)


async def test_a_lane_survives_a_store_failure_while_recording_and_the_job_runs_again(
    db: SqlDatabase,
) -> None:
    queue = StoreGoneOnce(db)
    runs: list[str] = []

    async def handle(jobs: list[Job], _ctx: JobContext) -> JobResults:
        runs.extend(job.id for job in jobs)
        return {job.id: {"ok": True} for job in jobs}

    worker = Worker(queue, queue, {KIND: handle}, [Lane("test", (KIND,))], SETTINGS, Metrics())
    first = queue.enqueue(KIND, {})
    started = time.monotonic()
    await worker.start(reclaim_all=False)
    try:
        done = await _finished(queue, first)
        rerun_after_s = time.monotonic() - started
        later = await _finished(queue, queue.enqueue(KIND, {}))
    finally:
        await worker.stop()

    assert queue.failed
    assert (done.status, done.attempts) == (JobStatus.SUCCEEDED, 2)
    assert runs.count(first) == 2 and rerun_after_s >= SETTINGS.lease_s
    assert later.status == JobStatus.SUCCEEDED
