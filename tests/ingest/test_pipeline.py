"""IngestPipeline storage steps: one transaction per step for a batch, one document failing alone,
large batches in groups."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from helpers.pipeline import open_pipeline
from helpers.store import draft
from ragworks.domain import DocumentStatus, JobResults
from ragworks.engines.store.sql import SqlDatabase, SqlMetadataStore
from ragworks.engines.store.sql_chunks import SqlChunkStore, VersionChunks, VersionCount
from ragworks.ingest.pipeline import IngestItem, IngestPipeline

TEXTS = {
    "tides": "Tidal power turns the rise and fall of the sea into electricity.",
    "glaciers": "Glaciers retreat as summers grow warmer.",
    "shoes": "Running shoes wear out after 800 kilometres of running.",
}


class RefusingChunkStore(SqlChunkStore):
    """Fails every write of ``refused`` in ``method``: a stand-in for a database error that no real
    document triggers on SQLite."""

    def __init__(self, db: SqlDatabase, method: str, refused: str) -> None:
        super().__init__(db)
        self.method, self.refused = method, refused
        self.calls: list[tuple[str, int]] = []

    def replace_chunks_many(self, batch: Sequence[VersionChunks]) -> list[tuple[list[int], list[int]]]:
        self._check("replace_chunks_many", [d for _, d, _, _ in batch])
        return super().replace_chunks_many(batch)

    def activate_versions(self, batch: Sequence[VersionCount]) -> list[list[int] | None]:
        self._check("activate_versions", [d for _, d, _, _ in batch])
        return super().activate_versions(batch)

    def _check(self, method: str, document_ids: list[str]) -> None:
        self.calls.append((method, len(document_ids)))
        if method == self.method and self.refused in document_ids:
            raise RuntimeError(f"cannot write '{self.refused}'")


@pytest.fixture
def store(db: SqlDatabase) -> SqlMetadataStore:
    store = SqlMetadataStore(db)
    store.create_collection("docs", "en", "")
    return store


@pytest.fixture
def pipeline(db: SqlDatabase, tmp_path: Path) -> Iterator[IngestPipeline]:
    with open_pipeline(db, tmp_path) as built:
        yield built


def _items(store: SqlMetadataStore) -> list[IngestItem]:
    accepted = store.accept_documents(
        [(draft("docs", name, content=text), {}) for name, text in TEXTS.items()], 4
    )
    return [
        IngestItem(
            job_id=f"job-{a.document.id}",
            collection="docs",
            document_id=a.document.id,
            version=1,
            text=TEXTS[a.document.id],
        )
        for a in accepted
    ]


def _run(pipeline: IngestPipeline, items: list[IngestItem]) -> dict[str, dict[str, object] | Exception]:
    return pipeline.run(items, lambda _ids, _value, _stage: None)


def test_a_batch_becomes_ready_and_searchable(pipeline: IngestPipeline, store: SqlMetadataStore) -> None:
    outcome = _run(pipeline, _items(store))

    assert {job_id: result["chunks"] for job_id, result in outcome.items() if isinstance(result, dict)} == {
        "job-tides": 1,
        "job-glaciers": 1,
        "job-shoes": 1,
    }
    assert {d.status for d in store.list_documents("docs")} == {DocumentStatus.READY}
    assert pipeline.index.keys("docs") == pipeline.chunk_store.served_keys("docs")
    assert len(pipeline.index.keys("docs")) == 3


def test_a_deleted_document_in_the_batch_is_superseded_and_its_rows_dropped(
    pipeline: IngestPipeline, store: SqlMetadataStore
) -> None:
    items = _items(store)
    store.request_delete("docs", "glaciers", 4)

    outcome = _run(pipeline, items)

    assert outcome["job-glaciers"] == {
        "document_id": "glaciers",
        "version": 1,
        "chunks": 0,
        "superseded": True,
    }
    assert store.get_document("docs", "tides").status == DocumentStatus.READY
    assert pipeline.chunk_store.purge_document("docs", "glaciers") == []
    assert pipeline.index.keys("docs") == pipeline.chunk_store.served_keys("docs")
    assert len(pipeline.index.keys("docs")) == 2


@pytest.mark.parametrize("method", ["replace_chunks_many", "activate_versions"])
def test_a_failing_document_fails_only_its_own_job(
    db: SqlDatabase, tmp_path: Path, store: SqlMetadataStore, method: str
) -> None:
    refusing = RefusingChunkStore(db, method, refused="glaciers")
    with open_pipeline(db, tmp_path, refusing) as pipeline:
        outcome = _run(pipeline, _items(store))

        assert isinstance(outcome.pop("job-glaciers"), RuntimeError)
        assert all(isinstance(result, dict) and result["chunks"] == 1 for result in outcome.values())
        assert [store.get_document("docs", name).status for name in ("tides", "shoes")] == [
            DocumentStatus.READY,
            DocumentStatus.READY,
        ]
        assert store.get_document("docs", "glaciers").active_version is None
        assert (method, 3) in refusing.calls  # the batch was tried first, then one document at a time
        assert refusing.calls.count((method, 1)) == 3
        assert len(pipeline.chunk_store.served_keys("docs")) == 2


def test_a_batch_with_more_chunks_than_a_group_is_done_group_by_group(
    pipeline: IngestPipeline, store: SqlMetadataStore
) -> None:
    grouped = dataclasses.replace(pipeline, group_chunks=2)  # one chunk per text: groups of 2 and 1
    embedded: list[list[str]] = []
    reports: list[tuple[JobResults, dict[str, DocumentStatus]]] = []

    def progress(job_ids: Sequence[str], _value: float, stage: str) -> None:
        if stage == "embed":
            embedded.append(list(job_ids))

    def finished(outcomes: JobResults) -> None:
        reports.append((outcomes, {d.id: d.status for d in store.list_documents("docs")}))

    outcome = grouped.run(_items(store), progress, finished)

    assert all(isinstance(result, dict) and result["chunks"] == 1 for result in outcome.values())
    assert embedded == [["job-tides", "job-glaciers"], ["job-shoes"]]
    [(early, statuses)] = reports  # after the first group only: the last one's outcomes are returned
    assert early == {"job-tides": outcome["job-tides"], "job-glaciers": outcome["job-glaciers"]}
    assert statuses == {
        "tides": DocumentStatus.READY,
        "glaciers": DocumentStatus.READY,
        "shoes": DocumentStatus.PROCESSING,  # its group had not run yet
    }
    assert pipeline.index.keys("docs") == pipeline.chunk_store.served_keys("docs")
    assert len(pipeline.index.keys("docs")) == 3
