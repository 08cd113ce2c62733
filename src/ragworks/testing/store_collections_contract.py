"""MetadataStore contract mixins for collections: create, list, get, delete, the embedding model."""

from __future__ import annotations

import time

import pytest

from ragworks.domain import JobKind, JobStatus
from ragworks.engines.queue.base import JobAdmin, JobQueue
from ragworks.engines.store.base import ChunkStore, MetadataStore
from ragworks.errors import Conflict, NotFound
from ragworks.testing.builders import (
    DIMENSION,
    draft,
    ready_document,
)
from ragworks.testing.store_fixtures import StoreFixtures


class CollectionsTest(StoreFixtures):
    """create_collection, list_collections with counts, get_collection, require_collections, and the
    embedding model a collection records (claim_embedding_model, embedding_models)."""

    def test_create_collection_returns_its_fields(self, store: MetadataStore) -> None:
        created = store.create_collection("papers", "ko", "research papers")

        assert (created.name, created.language, created.description) == ("papers", "ko", "research papers")
        assert created.created_at > 0

    def test_create_duplicate_collection_conflicts(self, store: MetadataStore, collection: str) -> None:
        with pytest.raises(Conflict):
            store.create_collection(collection, "en", "")

    def test_list_collections_is_sorted_by_name(self, store: MetadataStore) -> None:
        for name in ("zeta", "alpha", "mid"):
            store.create_collection(name, "auto", "")

        assert [c.name for c in store.list_collections()] == ["alpha", "mid", "zeta"]

    def test_new_collection_has_zero_counts(self, store: MetadataStore, collection: str) -> None:
        found = store.get_collection(collection)

        assert (found.document_count, found.chunk_count) == (0, 0)

    def test_list_collections_counts_documents_and_chunks(
        self, store: MetadataStore, chunk_store: ChunkStore, collection: str
    ) -> None:
        ready_document(store, chunk_store, collection, "a", chunk_count=3)
        ready_document(store, chunk_store, collection, "b", chunk_count=2)
        store.accept_document(draft(collection, "queued"), {}, 4)

        [listed] = store.list_collections()

        assert (listed.document_count, listed.chunk_count) == (3, 5)

    def test_collection_counts_leave_out_deleted_documents(
        self, store: MetadataStore, chunk_store: ChunkStore, collection: str
    ) -> None:
        ready_document(store, chunk_store, collection, "kept", chunk_count=2)
        ready_document(store, chunk_store, collection, "gone", chunk_count=4)
        store.request_delete(collection, "gone", 4)

        found = store.get_collection(collection)

        assert (found.document_count, found.chunk_count) == (1, 2)

    def test_get_missing_collection_is_not_found(self, store: MetadataStore) -> None:
        with pytest.raises(NotFound):
            store.get_collection("nope")

    def test_require_collections_names_the_first_missing_one(
        self, store: MetadataStore, collection: str
    ) -> None:
        store.create_collection("other", "en", "")
        store.require_collections([collection, "other", collection])  # all exist: returns

        with pytest.raises(NotFound, match="nada"):
            store.require_collections([collection, "nada", "nope"])

    def test_new_collection_has_no_embedding_model(self, store: MetadataStore, collection: str) -> None:
        found = store.get_collection(collection)

        assert (found.embed_model, found.embed_dimension) == (None, None)
        assert store.embedding_models([collection]) == {collection: None}

    def test_first_claim_records_the_embedding_model(self, store: MetadataStore, collection: str) -> None:
        claimed = store.claim_embedding_model(collection, "all-MiniLM-L6-v2", 384)

        found = store.get_collection(collection)
        assert claimed == ("all-MiniLM-L6-v2", 384)
        assert (found.embed_model, found.embed_dimension) == ("all-MiniLM-L6-v2", 384)
        assert store.embedding_models([collection]) == {collection: ("all-MiniLM-L6-v2", 384)}

    def test_later_claim_returns_the_recorded_model_unchanged(
        self, store: MetadataStore, collection: str
    ) -> None:
        store.claim_embedding_model(collection, "all-MiniLM-L6-v2", 384)

        again = store.claim_embedding_model(collection, "bge-base-en-v1.5", 768)

        assert again == ("all-MiniLM-L6-v2", 384)
        assert store.get_collection(collection).embed_model == "all-MiniLM-L6-v2"

    def test_embedding_models_leave_out_missing_collections(
        self, store: MetadataStore, collection: str
    ) -> None:
        store.create_collection("other", "en", "")
        store.claim_embedding_model("other", "bge-base-en-v1.5", 768)

        found = store.embedding_models([collection, "other", "nope"])

        assert found == {collection: None, "other": ("bge-base-en-v1.5", 768)}

    def test_claim_on_missing_collection_is_not_found(self, store: MetadataStore) -> None:
        with pytest.raises(NotFound):
            store.claim_embedding_model("nope", "all-MiniLM-L6-v2", 384)

    def test_recreated_collection_forgets_its_embedding_model(
        self, store: MetadataStore, collection: str
    ) -> None:
        store.claim_embedding_model(collection, "all-MiniLM-L6-v2", 384)
        store.delete_collection(collection)
        store.create_collection(collection, "en", "")

        assert store.embedding_models([collection]) == {collection: None}


class DeleteCollectionTest(StoreFixtures):
    """delete_collection: its documents, chunks and waiting jobs go; nothing else does."""

    def test_delete_collection_removes_it(self, store: MetadataStore, collection: str) -> None:
        store.delete_collection(collection)

        assert store.list_collections() == []

    def test_delete_collection_removes_its_documents_and_chunks(
        self, store: MetadataStore, chunk_store: ChunkStore, collection: str
    ) -> None:
        keys = ready_document(store, chunk_store, collection, "a")

        store.delete_collection(collection)
        store.create_collection(collection, "en", "")

        assert chunk_store.lookup(keys) == {}
        assert list(chunk_store.index_entries(set(keys), DIMENSION)) == []
        with pytest.raises(NotFound):
            store.get_document(collection, "a")

    def test_delete_collection_leaves_other_collections(
        self, store: MetadataStore, chunk_store: ChunkStore, collection: str
    ) -> None:
        store.create_collection("other", "en", "")
        keys = ready_document(store, chunk_store, "other", "a")

        store.delete_collection(collection)

        assert set(chunk_store.lookup(keys)) == set(keys)

    def test_delete_collection_cancels_its_waiting_jobs(
        self, store: MetadataStore, queue: JobQueue, admin: JobAdmin, collection: str
    ) -> None:
        queued = store.accept_document(draft(collection, "a"), {}, 4).job_id
        failed = store.accept_document(draft(collection, "b"), {}, 4).job_id
        assert queued is not None
        assert failed is not None
        [leased] = queue.lease("w1", [JobKind.INGEST], 1, 60)
        queue.fail("w1", leased, "E", "boom", time.time() + 60)

        store.delete_collection(collection)

        assert admin.get(queued).status == JobStatus.CANCELLED
        assert admin.get(failed).status == JobStatus.CANCELLED

    def test_delete_collection_leaves_running_and_other_jobs(
        self, store: MetadataStore, queue: JobQueue, admin: JobAdmin, collection: str
    ) -> None:
        store.accept_document(draft(collection, "a"), {}, 4)
        [running] = queue.lease("w1", [JobKind.INGEST], 1, 60)
        store.create_collection("other", "en", "")
        elsewhere = store.accept_document(draft("other", "a"), {}, 4).job_id
        assert elsewhere is not None

        store.delete_collection(collection)

        assert admin.get(running.id).status == JobStatus.RUNNING
        assert admin.get(elsewhere).status == JobStatus.QUEUED

    def test_delete_missing_collection_is_not_found(self, store: MetadataStore) -> None:
        with pytest.raises(NotFound):
            store.delete_collection("nope")
