"""The dashboard's reads over the jobs table (counts, depth, oldest waiting job, the last hour by
minute) and the bulk retry of dead jobs, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from helpers.store import open_database
from ragworks.domain import JobStatus
from ragworks.engines.queue.dashboard import SqlJobDashboard
from ragworks.engines.queue.job_rows import job_row
from ragworks.engines.queue.sql import SqlJobQueue
from ragworks.engines.store.schema import jobs
from ragworks.engines.store.sql import SqlDatabase

INGEST, SERVICE = "document.ingest", "service.run"


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlDatabase]:
    """A migrated database of either engine."""
    if request.param == "postgres":
        yield request.getfixturevalue("postgres_db")
        return
    with open_database(tmp_path) as db:
        yield db


def add_job(
    db: SqlDatabase,
    *,
    status: JobStatus,
    created_at: float,
    finished_at: float | None = None,
    kind: str = INGEST,
    collection: str = "docs",
) -> str:
    """Insert one job row as it would be stored in ``status``."""
    row: dict[str, Any] = job_row(kind=kind, payload={}, collection=collection)
    row.update(status=status, created_at=created_at, updated_at=finished_at or created_at)
    row.update(finished_at=finished_at, attempts=4 if status == JobStatus.DEAD else 0)
    with db.writer.begin() as conn:
        conn.execute(insert(jobs).values(**row))
    return str(row["id"])


def test_overview_counts_jobs_by_kind_and_status(database: SqlDatabase) -> None:
    now = time.time()
    for status in (JobStatus.QUEUED, JobStatus.QUEUED, JobStatus.DEAD):
        add_job(
            database, status=status, created_at=now - 30, finished_at=now - 1 if status == "dead" else None
        )
    add_job(database, status=JobStatus.RUNNING, created_at=now - 20, kind=SERVICE)

    overview = SqlJobDashboard(database).overview()

    assert overview.counts == {(INGEST, "queued"): 2, (INGEST, "dead"): 1, (SERVICE, "running"): 1}
    assert overview.depth == 3


def test_oldest_waiting_is_the_oldest_queued_or_retrying_job(database: SqlDatabase) -> None:
    now = time.time()
    add_job(database, status=JobStatus.SUCCEEDED, created_at=now - 900, finished_at=now - 800)
    add_job(database, status=JobStatus.FAILED, created_at=now - 300)
    add_job(database, status=JobStatus.QUEUED, created_at=now - 100)

    assert SqlJobDashboard(database).overview().oldest_waiting_at == pytest.approx(now - 300)


def test_no_waiting_job_has_no_oldest(database: SqlDatabase) -> None:
    add_job(database, status=JobStatus.RUNNING, created_at=time.time())

    assert SqlJobDashboard(database).overview().oldest_waiting_at is None


def test_the_series_counts_each_minute_and_walks_the_depth_back(database: SqlDatabase) -> None:
    now = time.time()
    # two jobs arrived 5 minutes ago: one succeeded 3 minutes ago, one died 1 minute ago (depth 2, 1, 0)
    add_job(database, status=JobStatus.SUCCEEDED, created_at=now - 290, finished_at=now - 170)
    add_job(database, status=JobStatus.DEAD, created_at=now - 290, finished_at=now - 50)
    add_job(database, status=JobStatus.SUCCEEDED, created_at=now - 7200, finished_at=now - 7100)  # outside

    series = SqlJobDashboard(database).overview(window_s=600, bucket_s=60).series

    assert len(series) == 10
    assert [p.created for p in series] == [0, 0, 0, 0, 0, 2, 0, 0, 0, 0]
    assert [p.succeeded for p in series] == [0, 0, 0, 0, 0, 0, 0, 1, 0, 0]
    assert [p.dead for p in series] == [0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    assert [p.depth for p in series] == [0, 0, 0, 0, 0, 2, 2, 1, 1, 0]
    assert series[-1].start == pytest.approx(now - 60, abs=1)


def test_retry_dead_requeues_every_dead_job_in_batches(database: SqlDatabase) -> None:
    now = time.time()
    dead = [
        add_job(database, status=JobStatus.DEAD, created_at=now - 60 + i, finished_at=now) for i in range(5)
    ]
    other = add_job(database, status=JobStatus.SUCCEEDED, created_at=now - 60, finished_at=now)
    queue = SqlJobQueue(database)

    assert SqlJobDashboard(database).retry_dead(batch=2) == 5

    for job_id in dead:
        job = queue.get(job_id)
        assert (job.status, job.attempts, job.finished_at) == (JobStatus.QUEUED, 0, None)
    assert queue.get(other).status == JobStatus.SUCCEEDED


def test_retry_dead_keeps_to_the_kind_and_collection_asked(database: SqlDatabase) -> None:
    now = time.time()
    wanted = add_job(database, status=JobStatus.DEAD, created_at=now - 9, finished_at=now - 1, collection="a")
    add_job(database, status=JobStatus.DEAD, created_at=now - 9, finished_at=now - 1, collection="b")
    add_job(database, status=JobStatus.DEAD, created_at=now - 9, finished_at=now - 1, kind=SERVICE)

    assert SqlJobDashboard(database).retry_dead(kind=INGEST, collection="a") == 1
    assert SqlJobQueue(database).get(wanted).status == JobStatus.QUEUED


def test_retry_dead_leaves_jobs_that_died_after_it_started(database: SqlDatabase) -> None:
    later = time.time() + 60  # as if it died again while the bulk retry ran
    add_job(database, status=JobStatus.DEAD, created_at=later - 5, finished_at=later)

    assert SqlJobDashboard(database).retry_dead() == 0
