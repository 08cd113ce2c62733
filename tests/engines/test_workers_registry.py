"""The workers table: registration, heartbeats, clean stops, live workers and the purge, on SQLite and
PostgreSQL; and a job worker that announces itself and what it runs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import pytest
from sqlalchemy import update

from helpers.store import open_database
from ragworks.config import JobSettings
from ragworks.domain import Job, JobResults
from ragworks.engines.queue.sql import SqlJobQueue
from ragworks.engines.store.schema import workers
from ragworks.engines.store.sql import SqlDatabase
from ragworks.engines.store.workers import STALE_AFTER_S, SqlWorkerRegistry
from ragworks.jobs.worker import JobContext, Lane, Worker
from ragworks.observability.metrics import Metrics

LANES = ["ingest-0", "services-0"]


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlDatabase]:
    """A migrated database of either engine."""
    if request.param == "postgres":
        yield request.getfixturevalue("postgres_db")
        return
    with open_database(tmp_path) as db:
        yield db


@pytest.fixture
def registry(database: SqlDatabase) -> SqlWorkerRegistry:
    return SqlWorkerRegistry(database)


def age(db: SqlDatabase, owner: str, seconds: float, *, stopped: bool = False) -> None:
    """Pretend ``owner`` was last seen (and stopped, if asked) ``seconds`` ago."""
    past = time.time() - seconds
    values = {"last_seen": past, **({"stopped_at": past} if stopped else {})}
    with db.writer.begin() as conn:
        conn.execute(update(workers).where(workers.c.owner == owner).values(**values))


def test_a_registered_worker_is_live_with_its_lanes(registry: SqlWorkerRegistry) -> None:
    registry.register("host-1-a", "host", 11, "worker", LANES)

    [info] = registry.live(within_s=15)
    assert (info.owner, info.host, info.pid, info.role) == ("host-1-a", "host", 11, "worker")
    assert info.lanes == LANES
    assert info.running == []
    assert info.stopped_at is None


def test_registering_the_same_owner_again_replaces_its_row(registry: SqlWorkerRegistry) -> None:
    registry.register("host-1-a", "host", 11, "worker", LANES)
    registry.register("host-1-a", "host", 11, "embedded", ["ingest-0"])

    [info] = registry.list()
    assert (info.role, info.lanes) == ("embedded", ["ingest-0"])


def test_a_beat_records_the_running_jobs_and_the_time(registry: SqlWorkerRegistry) -> None:
    registry.register("host-1-a", "host", 11, "worker", LANES)
    before = registry.list()[0].last_seen
    running = [{"job_id": "j1", "kind": "document.ingest", "lane": "ingest-0", "since": 1.5}]

    registry.beat("host-1-a", running)

    [info] = registry.live(within_s=15)
    assert info.running == running
    assert info.last_seen >= before


def test_a_stopped_worker_is_not_live_but_still_listed(registry: SqlWorkerRegistry) -> None:
    registry.register("host-1-a", "host", 11, "worker", LANES)
    registry.beat("host-1-a", [{"job_id": "j1", "kind": "k", "lane": "l", "since": 1.0}])

    registry.stopped("host-1-a")

    assert registry.live(within_s=15) == []
    [info] = registry.list()
    assert info.stopped_at is not None
    assert info.running == []


def test_a_silent_worker_drops_out_of_the_live_ones(
    registry: SqlWorkerRegistry, database: SqlDatabase
) -> None:
    registry.register("silent", "host", 1, "worker", LANES)
    registry.register("beating", "host", 2, "worker", LANES)
    age(database, "silent", 60)

    assert [w.owner for w in registry.live(within_s=15)] == ["beating"]
    assert [w.owner for w in registry.list()] == ["beating", "silent"]


def test_purge_removes_rows_unseen_or_stopped_for_a_day(
    registry: SqlWorkerRegistry, database: SqlDatabase
) -> None:
    for owner in ("gone", "stopped-long-ago", "recent"):
        registry.register(owner, "host", 1, "worker", LANES)
    age(database, "gone", STALE_AFTER_S + 60)
    age(database, "stopped-long-ago", STALE_AFTER_S + 60, stopped=True)

    assert registry.purge() == 2
    assert [w.owner for w in registry.list()] == ["recent"]


def test_registering_purges_stale_rows(registry: SqlWorkerRegistry, database: SqlDatabase) -> None:
    registry.register("gone", "host", 1, "worker", LANES)
    age(database, "gone", STALE_AFTER_S + 60)

    registry.register("new", "host", 2, "worker", LANES)

    assert [w.owner for w in registry.list()] == ["new"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Return once ``condition()`` holds; fail after ``timeout_s``."""
    with anyio.fail_after(timeout_s):
        while True:
            if condition():
                return
            await anyio.sleep(0.02)


@pytest.mark.anyio
async def test_a_job_worker_beats_its_running_jobs_and_marks_its_stop(tmp_path: Path) -> None:
    settings = JobSettings(poll_interval_s=0.05, heartbeat_s=0.05, lease_s=5)
    release = threading.Event()

    async def handler(jobs: list[Job], _context: JobContext) -> JobResults:
        await anyio.to_thread.run_sync(release.wait, 30)
        return {job.id: {} for job in jobs}

    with open_database(tmp_path) as db:
        queue, registry = SqlJobQueue(db), SqlWorkerRegistry(db)
        worker = Worker(
            queue,
            queue,
            {"test.work": handler},
            [Lane("work", ("test.work",))],
            settings,
            Metrics(),
            registry=registry,
        )
        await worker.start(reclaim_all=False)
        try:
            [info] = registry.live(within_s=5)  # registered at start, before any job
            assert (info.owner, info.lanes, info.running) == (worker.owner, ["work"], [])
            job_id = queue.enqueue("test.work", {})
            await until(lambda: bool(registry.live(within_s=5)[0].running))
            [running] = registry.live(within_s=5)[0].running
            assert (running["job_id"], running["kind"], running["lane"]) == (job_id, "test.work", "work")
            release.set()
            await until(lambda: not registry.live(within_s=5)[0].running)
        finally:
            release.set()
            await worker.stop()
        assert registry.live(within_s=5) == []
        assert registry.list()[0].stopped_at is not None
