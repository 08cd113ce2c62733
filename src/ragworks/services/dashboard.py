"""Dashboard use-cases: the jobs overview, live workers and replaying every dead job at once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import anyio

from ragworks.engines.queue.dashboard import JobDashboard, JobOverview
from ragworks.engines.store.workers import WorkerInfo, WorkerRegistry

LIVE_HEARTBEATS = 3  # a worker is live while its last heartbeat is at most this many intervals old


@dataclass(slots=True)
class DashboardService:
    """What the operator's dashboard reads and does beyond the jobs and collections endpoints."""

    dashboard: JobDashboard
    workers: WorkerRegistry
    heartbeat_s: float
    on_enqueued: Callable[[], None]

    async def overview(self, window_s: float, bucket_s: float) -> JobOverview:
        """Counts by kind and status, queue depth, oldest waiting job, and the window's series."""
        return await anyio.to_thread.run_sync(self.dashboard.overview, window_s, bucket_s)

    async def live_workers(self, within_s: float | None) -> list[WorkerInfo]:
        """Workers that beat within ``within_s`` (default: three heartbeat intervals)."""
        window = within_s if within_s is not None else LIVE_HEARTBEATS * self.heartbeat_s
        return await anyio.to_thread.run_sync(self.workers.live, window)

    async def retry_dead(self, kind: str | None, collection: str | None) -> int:
        """Replay every dead job (of ``kind`` / ``collection`` when given) and wake the workers."""
        retried = await anyio.to_thread.run_sync(
            lambda: self.dashboard.retry_dead(kind=kind, collection=collection)
        )
        if retried:
            self.on_enqueued()
        return retried
