"""DocumentJobs.ingest: versions with nothing to do are skipped, the rest go through the pipeline."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.pipeline import open_pipeline
from helpers.store import draft
from ragworks.domain import JobKind, JobResults
from ragworks.engines.queue.sql import SqlJobQueue
from ragworks.engines.store.sql import SqlDatabase, SqlMetadataStore
from ragworks.errors import NotFound
from ragworks.jobs.handlers import DocumentJobs
from ragworks.jobs.worker import JobContext

pytestmark = pytest.mark.anyio


@pytest.fixture
def jobs(db: SqlDatabase, queue: SqlJobQueue, tmp_path: Path) -> Iterator[DocumentJobs]:
    with open_pipeline(db, tmp_path) as pipeline:
        yield DocumentJobs(
            store=pipeline.store,
            chunk_store=pipeline.chunk_store,
            queue=queue,
            index=pipeline.index,
            index_lock=threading.Lock(),
            blobs=pipeline.blobs,
            pipeline=pipeline,
        )


async def test_ingest_skips_what_has_nothing_to_do_and_indexes_the_rest(
    jobs: DocumentJobs, queue: SqlJobQueue
) -> None:
    store: SqlMetadataStore = jobs.store
    store.create_collection("docs", "en", "")
    text = "Tidal power turns the rise and fall of the sea into electricity."
    store.accept_documents([(draft("docs", name), {"text": text}) for name in ("new", "gone", "old")], 4)
    store.accept_document(draft("docs", "old", content="newer"), {"text": text}, 4)
    store.request_delete("docs", "gone", 4)
    queue.enqueue(JobKind.INGEST, {"version": 1, "text": text}, collection="docs", document_id="missing")
    queue.enqueue(JobKind.INGEST, {"version": 1, "text": text}, collection="nope", document_id="new")
    leased = queue.lease("w1", [JobKind.INGEST], 10, 60)
    by_document = {(j.collection, j.document_id, j.payload["version"]): j.id for j in leased}

    results = await jobs.ingest(leased, JobContext(queue, "w1"))

    assert results[by_document["docs", "new", 1]] == {
        "document_id": "new",
        "version": 1,
        "chunks": 1,
        "pages": None,
        "format": "text",
    }
    assert results[by_document["docs", "gone", 1]] == {
        "document_id": "gone",
        "version": 1,
        "skipped": "document deleted",
    }
    assert results[by_document["docs", "old", 1]] == {
        "document_id": "old",
        "version": 1,
        "skipped": "superseded by a newer version",
    }
    assert (
        str(results[by_document["docs", "missing", 1]]) == "document 'missing' not found in collection 'docs'"
    )
    missing_collection = results[by_document["nope", "new", 1]]
    assert isinstance(missing_collection, NotFound)
    assert str(missing_collection) == "collection 'nope' does not exist"
    assert isinstance(results[by_document["docs", "old", 2]], dict)
    assert results[by_document["docs", "old", 2]]["chunks"] == 1


async def test_ingest_reports_each_finished_group_before_returning(
    jobs: DocumentJobs, queue: SqlJobQueue
) -> None:
    jobs.pipeline = dataclasses.replace(jobs.pipeline, group_chunks=1)  # one document per group
    store: SqlMetadataStore = jobs.store
    store.create_collection("docs", "en", "")
    names = ("tides", "glaciers", "shoes")
    store.accept_documents([(draft("docs", name), {"text": f"A page about {name}."}) for name in names], 4)
    leased = queue.lease("w1", [JobKind.INGEST], 10, 60)
    job_of = {j.document_id: j.id for j in leased}
    reports: list[JobResults] = []

    results = await jobs.ingest(leased, JobContext(queue, "w1", reports.append))

    assert [list(report) for report in reports] == [[job_of["tides"]], [job_of["glaciers"]]]
    assert all(results[job_id] == outcome for report in reports for job_id, outcome in report.items())
    assert {job_id: result["chunks"] for job_id, result in results.items() if isinstance(result, dict)} == {
        job_of[name]: 1 for name in names
    }
