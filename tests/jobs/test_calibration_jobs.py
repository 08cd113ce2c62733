"""collection.calibrate: the chore enqueues one job per collection and size once a collection is due
and settled, and the handler records the calibration (real SQLite store, queue and index)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.calibration import Engines, open_engines
from helpers.store import draft
from ragworks.config import SearchSettings
from ragworks.domain import JobKind
from ragworks.engines.queue.sql import SqlJobQueue
from ragworks.jobs.calibration import CalibrationJobs
from ragworks.jobs.worker import JobContext

pytestmark = pytest.mark.anyio

SETTINGS = SearchSettings(calibrate=True, calibration_min_documents=4, calibration_pseudo_queries=8)


@pytest.fixture
def built(tmp_path: Path) -> Iterator[tuple[Engines, SqlJobQueue, CalibrationJobs]]:
    with open_engines(tmp_path) as (db, engines):
        queue = SqlJobQueue(db)
        jobs = CalibrationJobs(engines.store, queue, engines.calibrator(SETTINGS), SETTINGS)
        yield engines, queue, jobs
        queue.close()


def calibrate_jobs(queue: SqlJobQueue) -> list[str]:
    return [j.collection or "" for j in queue.lease("w1", [JobKind.CALIBRATE], 10, 60)]


async def test_a_due_collection_gets_one_job_however_often_the_chore_runs(
    built: tuple[Engines, SqlJobQueue, CalibrationJobs],
) -> None:
    _, queue, jobs = built

    await jobs.enqueue_due()
    await jobs.enqueue_due()

    assert calibrate_jobs(queue) == ["docs"]


async def test_a_collection_still_loading_is_left_until_it_settles(
    built: tuple[Engines, SqlJobQueue, CalibrationJobs],
) -> None:
    engines, queue, jobs = built
    engines.store.accept_document(draft("docs", "pending", content="a queued page"), {}, 4)

    await jobs.enqueue_due()

    assert calibrate_jobs(queue) == []


async def test_the_handler_records_the_calibration_once(
    built: tuple[Engines, SqlJobQueue, CalibrationJobs],
) -> None:
    engines, queue, jobs = built
    await jobs.enqueue_due()
    [job] = queue.lease("w1", [JobKind.CALIBRATE], 10, 60)

    first = await jobs.calibrate([job], JobContext(queue, "w1"))
    again = await jobs.calibrate([job], JobContext(queue, "w1"))

    recorded = engines.store.get_collection("docs").fusion
    assert recorded is not None
    assert first[job.id] == {
        "normalisation": recorded.normalisation,
        "vector_weight": recorded.vector_weight,
        "method": "pseudo-queries",
        "pseudo_queries": recorded.pseudo_queries,
        "document_count": recorded.document_count,
    }
    assert again[job.id] == {"skipped": "calibrated already"}
