"""SqlMetadataStore collections: create, list with counts, get, delete."""

from __future__ import annotations

import pytest
from helpers.store import draft, ready_document

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


def test_delete_missing_collection_is_not_found(store: SqlMetadataStore) -> None:
    with pytest.raises(NotFound):
        store.delete_collection("nope")
