"""SqlMetadataStore collections: create, list with counts, get, delete."""

from __future__ import annotations

import time

import pytest

from helpers.store import draft, ready_document
from ragworks.domain import JobKind, JobStatus
from ragworks.engines.queue.sql import SqlJobQueue
from ragworks.engines.store.sql import SqlMetadataStore
from ragworks.engines.store.sql_chunks import SqlChunkStore
from ragworks.errors import Conflict, NotFound


def test_create_collection_returns_its_fields(store: SqlMetadataStore) -> None:
    created = store.create_collection("papers", "ko", "research papers")

    assert (created.name, created.language, created.description) == ("papers", "ko", "research papers")
    assert created.created_at > 0


def test_create_duplicate_collection_conflicts(store: SqlMetadataStore, collection: str) -> None:
    with pytest.raises(Conflict):
        store.create_collection(collection, "en", "")


def test_list_collections_is_sorted_by_name(store: SqlMetadataStore) -> None:
    for name in ("zeta", "alpha", "mid"):
        store.create_collection(name, "auto", "")

    assert [c.name for c in store.list_collections()] == ["alpha", "mid", "zeta"]


def test_new_collection_has_zero_counts(store: SqlMetadataStore, collection: str) -> None:
    found = store.get_collection(collection)

    assert (found.document_count, found.chunk_count) == (0, 0)


def test_list_collections_counts_documents_and_chunks(
    store: SqlMetadataStore, chunk_store: SqlChunkStore, collection: str
) -> None:
    ready_document(store, chunk_store, collection, "a", chunk_count=3)
    ready_document(store, chunk_store, collection, "b", chunk_count=2)
    store.accept_document(draft(collection, "queued"), {}, 4)

    [listed] = store.list_collections()

    assert (listed.document_count, listed.chunk_count) == (3, 5)


def test_collection_counts_leave_out_deleted_documents(
    store: SqlMetadataStore, chunk_store: SqlChunkStore, collection: str
) -> None:
    ready_document(store, chunk_store, collection, "kept", chunk_count=2)
    ready_document(store, chunk_store, collection, "gone", chunk_count=4)
    store.request_delete(collection, "gone", 4)

    found = store.get_collection(collection)

    assert (found.document_count, found.chunk_count) == (1, 2)


def test_get_missing_collection_is_not_found(store: SqlMetadataStore) -> None:
    with pytest.raises(NotFound):
        store.get_collection("nope")


def test_delete_collection_removes_it(store: SqlMetadataStore, collection: str) -> None:
    store.delete_collection(collection)

    assert store.list_collections() == []


def test_delete_collection_removes_its_documents_and_chunks(
    store: SqlMetadataStore, chunk_store: SqlChunkStore, collection: str
) -> None:
    keys = ready_document(store, chunk_store, collection, "a")

    store.delete_collection(collection)
    store.create_collection(collection, "en", "")

    assert chunk_store.lookup(keys) == {}
    assert list(chunk_store.index_entries(set(keys), 4)) == []
    with pytest.raises(NotFound):
        store.get_document(collection, "a")


def test_delete_collection_leaves_other_collections(
    store: SqlMetadataStore, chunk_store: SqlChunkStore, collection: str
) -> None:
    store.create_collection("other", "en", "")
    keys = ready_document(store, chunk_store, "other", "a")

    store.delete_collection(collection)

    assert set(chunk_store.lookup(keys)) == set(keys)


def test_delete_collection_cancels_its_waiting_jobs(
    store: SqlMetadataStore, queue: SqlJobQueue, collection: str
) -> None:
    queued = store.accept_document(draft(collection, "a"), {}, 4).job_id
    failed = store.accept_document(draft(collection, "b"), {}, 4).job_id
    assert queued is not None
    assert failed is not None
    [leased] = queue.lease("w1", [JobKind.INGEST], 1, 60)
    queue.fail("w1", leased, "E", "boom", time.time() + 60)

    store.delete_collection(collection)

    assert queue.get(queued).status == JobStatus.CANCELLED
    assert queue.get(failed).status == JobStatus.CANCELLED


def test_delete_collection_leaves_running_and_other_jobs(
    store: SqlMetadataStore, queue: SqlJobQueue, collection: str
) -> None:
    store.accept_document(draft(collection, "a"), {}, 4)
    [running] = queue.lease("w1", [JobKind.INGEST], 1, 60)
    store.create_collection("other", "en", "")
    elsewhere = store.accept_document(draft("other", "a"), {}, 4).job_id
    assert elsewhere is not None

    store.delete_collection(collection)

    assert queue.get(running.id).status == JobStatus.RUNNING
    assert queue.get(elsewhere).status == JobStatus.QUEUED


def test_delete_missing_collection_is_not_found(store: SqlMetadataStore) -> None:
    with pytest.raises(NotFound):
        store.delete_collection("nope")
