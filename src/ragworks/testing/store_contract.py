"""Contract tests every MetadataStore adapter must pass, one mixin per capability.

An adapter's test class lists the mixins it passes (or ``MetadataStoreContract`` for all of them)
after a base that provides these fixtures, all over one fresh, started database:

- ``store``: the ``MetadataStore``;
- ``chunk_store``: the ``ChunkStore`` (collection counts and deletes are checked through it);
- ``queue`` and ``admin``: the ``JobQueue`` and ``JobAdmin`` that see the jobs the store enqueues;
- ``set_updated_at`` (``PageTiesTest`` only): a callable ``(collection, t)`` that sets every document
  of the collection to the same ``updated_at``, a state the port cannot make.

``collection`` (the name of an empty collection) is provided here. Fixtures are looked up along the
class's MRO, so the base that provides them comes first::

    class TestSqlDocuments(SqliteStores, AcceptTest, ListDocumentsTest): ...
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from ragworks.domain import DocumentDraft, DocumentStatus, FieldFilter, JobKind, JobStatus
from ragworks.engines.queue.base import JobAdmin, JobQueue
from ragworks.engines.store.base import ChunkStore, MetadataStore
from ragworks.errors import BadRequest, Conflict, NotFound
from ragworks.testing.builders import (
    DIMENSION,
    FILTER_CASES,
    FILTERED_DOCUMENTS,
    INVALID_FILTERS,
    case_id,
    draft,
    ready_document,
)

SetUpdatedAt = Callable[[str, float], None]
Item = tuple[DocumentDraft, dict[str, Any]]  # what accept_documents takes


class StoreFixtures:
    """The fixtures the store and chunk suites use; adapters' test classes override the first four."""

    @pytest.fixture
    def store(self) -> MetadataStore:
        """The metadata store under test."""
        raise NotImplementedError("the adapter's test class provides a started MetadataStore")

    @pytest.fixture
    def chunk_store(self) -> ChunkStore:
        """The chunk store on the same database as ``store``."""
        raise NotImplementedError("the adapter's test class provides a ChunkStore")

    @pytest.fixture
    def queue(self) -> JobQueue:
        """The job queue on the same database as ``store``."""
        raise NotImplementedError("the adapter's test class provides a JobQueue")

    @pytest.fixture
    def admin(self) -> JobAdmin:
        """The job admin on the same database as ``store``."""
        raise NotImplementedError("the adapter's test class provides a JobAdmin")

    @pytest.fixture
    def collection(self, store: MetadataStore) -> str:
        """The name of an empty collection."""
        store.create_collection("docs", "en", "test documents")
        return "docs"


class CollectionsTest(StoreFixtures):
    """create_collection, list_collections with counts, get_collection, require_collections."""

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


class AcceptTest(StoreFixtures):
    """accept_document: a new document or version with its ingest job, or nothing new."""

    def test_accept_new_document_is_created(self, store: MetadataStore, collection: str) -> None:
        accepted = store.accept_document(draft(collection, "a", metadata={"k": 1}, title="A"), {}, 4)

        assert accepted.outcome == "created"
        document = accepted.document
        assert (document.version, document.active_version, document.status) == (
            1,
            None,
            DocumentStatus.QUEUED,
        )
        assert (document.title, document.metadata, document.job_id) == ("A", {"k": 1}, accepted.job_id)

    def test_accept_enqueues_ingest_job_with_version_1(
        self, store: MetadataStore, admin: JobAdmin, collection: str
    ) -> None:
        accepted = store.accept_document(draft(collection, "a"), {"text": "some text"}, 3)

        assert accepted.job_id is not None
        job = admin.get(accepted.job_id)
        assert (job.kind, job.status) == (JobKind.INGEST, JobStatus.QUEUED)
        assert job.payload == {"text": "some text", "version": 1}
        assert (job.collection, job.document_id, job.max_attempts) == (collection, "a", 3)

    def test_accept_same_content_is_unchanged_without_new_job(
        self, store: MetadataStore, admin: JobAdmin, collection: str
    ) -> None:
        first = store.accept_document(draft(collection, "a"), {}, 4)

        again = store.accept_document(draft(collection, "a"), {}, 4)

        assert again.outcome == "unchanged"
        assert again.job_id == first.job_id
        assert again.document.version == 1
        assert len(admin.list()) == 1

    def test_accept_same_content_new_metadata_is_metadata_updated(
        self, store: MetadataStore, admin: JobAdmin, collection: str
    ) -> None:
        first = store.accept_document(draft(collection, "a", metadata={"year": 2020}), {}, 4)

        again = store.accept_document(draft(collection, "a", metadata={"year": 2021}), {}, 4)

        assert again.outcome == "metadata_updated"
        assert (again.document.metadata, again.document.version) == ({"year": 2021}, 1)
        assert again.job_id == first.job_id
        assert len(admin.list()) == 1

    def test_accept_same_content_new_title_is_metadata_updated(
        self, store: MetadataStore, collection: str
    ) -> None:
        store.accept_document(draft(collection, "a", title="Old"), {}, 4)

        again = store.accept_document(draft(collection, "a", title="New"), {}, 4)

        assert again.outcome == "metadata_updated"
        assert store.get_document(collection, "a").title == "New"

    def test_accept_same_content_without_title_keeps_title(
        self, store: MetadataStore, collection: str
    ) -> None:
        store.accept_document(draft(collection, "a", title="Kept"), {}, 4)

        again = store.accept_document(draft(collection, "a"), {}, 4)

        assert again.outcome == "unchanged"
        assert again.document.title == "Kept"

    def test_accept_new_content_is_updated_as_version_2(
        self, store: MetadataStore, admin: JobAdmin, collection: str
    ) -> None:
        first = store.accept_document(draft(collection, "a", content="one"), {}, 4)

        second = store.accept_document(draft(collection, "a", content="two"), {}, 4)

        assert second.outcome == "updated"
        assert second.document.version == 2
        assert second.job_id not in (None, first.job_id)
        assert second.document.job_id == second.job_id
        assert second.job_id is not None
        assert admin.get(second.job_id).payload["version"] == 2

    def test_accept_into_missing_collection_is_not_found_and_enqueues_nothing(
        self, store: MetadataStore, admin: JobAdmin
    ) -> None:
        with pytest.raises(NotFound):
            store.accept_document(draft("nope", "a"), {}, 4)

        assert admin.list() == []

    def test_accept_same_content_after_failure_makes_a_new_version(
        self, store: MetadataStore, collection: str
    ) -> None:
        store.accept_document(draft(collection, "a"), {}, 4)
        store.set_document_status(collection, "a", 1, DocumentStatus.FAILED, ("bad", "broken"))

        again = store.accept_document(draft(collection, "a"), {}, 4)

        assert (again.outcome, again.document.version) == ("updated", 2)
        assert (again.document.status, again.document.error_code) == (DocumentStatus.QUEUED, None)

    def test_accept_same_content_after_delete_makes_a_new_version(
        self, store: MetadataStore, collection: str
    ) -> None:
        store.accept_document(draft(collection, "a"), {}, 4)
        store.request_delete(collection, "a", 4)

        again = store.accept_document(draft(collection, "a"), {}, 4)

        assert (again.outcome, again.document.version) == ("updated", 2)
        assert again.document.status == DocumentStatus.QUEUED


class AcceptBatchTest(StoreFixtures):
    """accept_documents: items decided in order, all in one transaction or none."""

    def test_accept_documents_decides_repeated_ids_in_order(
        self, store: MetadataStore, collection: str
    ) -> None:
        batch: list[Item] = [
            (draft(collection, "a", content="one"), {}),
            (draft(collection, "a", content="one"), {}),
            (draft(collection, "a", content="one", metadata={"k": 1}), {}),
            (draft(collection, "a", content="two"), {}),
            (draft(collection, "b"), {}),
        ]

        accepted = store.accept_documents(batch, 4)

        outcomes = [a.outcome for a in accepted]
        assert outcomes == ["created", "unchanged", "metadata_updated", "updated", "created"]
        assert [a.document.version for a in accepted] == [1, 1, 1, 2, 1]
        assert accepted[2].document.metadata == {"k": 1}
        assert accepted[1].job_id == accepted[0].job_id != accepted[3].job_id
        stored = store.get_document(collection, "a")
        assert (stored.version, stored.job_id, stored.metadata) == (2, accepted[3].job_id, {})

    def test_accept_documents_enqueues_one_job_per_new_version(
        self, store: MetadataStore, admin: JobAdmin, collection: str
    ) -> None:
        batch = [
            (draft(collection, "a", content="one"), {"text": "one"}),
            (draft(collection, "a", content="two"), {}),
        ]

        accepted = store.accept_documents(batch, 3)

        jobs = {job.id: job for job in admin.list(kind=JobKind.INGEST)}
        assert set(jobs) == {a.job_id for a in accepted}
        first, second = (jobs[str(a.job_id)] for a in accepted)
        assert first.payload == {"text": "one", "version": 1}
        assert (second.payload, second.max_attempts) == ({"version": 2}, 3)

    def test_accept_documents_matches_one_at_a_time_for_stored_documents(
        self, store: MetadataStore, collection: str
    ) -> None:
        store.accept_document(draft(collection, "a", title="Kept"), {}, 4)
        store.accept_document(draft(collection, "b", content="old"), {}, 4)
        batch: list[Item] = [
            (draft(collection, "a", metadata={"n": 1}), {}),
            (draft(collection, "b", content="new"), {}),
        ]

        renamed, updated = store.accept_documents(batch, 4)

        assert (renamed.outcome, renamed.document.title) == ("metadata_updated", "Kept")
        assert (updated.outcome, updated.document.version) == ("updated", 2)
        assert store.get_document(collection, "a") == renamed.document
        assert store.get_document(collection, "b") == updated.document

    def test_accept_documents_stores_nothing_when_a_collection_is_missing(
        self, store: MetadataStore, admin: JobAdmin, collection: str
    ) -> None:
        with pytest.raises(NotFound):
            store.accept_documents([(draft(collection, "a"), {}), (draft("nope", "b"), {})], 4)

        assert store.list_documents(collection) == []
        assert admin.list() == []


class ReadDocumentsTest(StoreFixtures):
    """get_document and get_documents."""

    def test_get_missing_document_is_not_found(self, store: MetadataStore, collection: str) -> None:
        with pytest.raises(NotFound):
            store.get_document(collection, "missing")

    def test_get_document_in_missing_collection_is_not_found(self, store: MetadataStore) -> None:
        with pytest.raises(NotFound, match="collection"):
            store.get_document("nope", "a")

    def test_get_documents_returns_those_that_exist(self, store: MetadataStore, collection: str) -> None:
        store.accept_document(draft(collection, "a"), {}, 4)

        found = store.get_documents([(collection, "a"), (collection, "missing"), ("nope", "a")])

        assert list(found) == [(collection, "a")]
        assert found[(collection, "a")] == store.get_document(collection, "a")


def all_pages(store: MetadataStore, collection: str, limit: int) -> list[list[str]]:
    """Document ids of every page of ``list_documents``, following the keyset cursor."""
    pages: list[list[str]] = []
    after: tuple[float, str] | None = None
    while page := store.list_documents(collection, limit=limit, after=after):
        pages.append([d.id for d in page])
        after = (page[-1].updated_at, page[-1].id)
    return pages


class ListDocumentsTest(StoreFixtures):
    """list_documents: newest first, by status, keyset pages."""

    def test_list_documents_is_newest_first(self, store: MetadataStore, collection: str) -> None:
        for name in ("a", "b", "c"):
            store.accept_document(draft(collection, name), {}, 4)

        assert [d.id for d in store.list_documents(collection)] == ["c", "b", "a"]

    def test_list_documents_filters_by_status(self, store: MetadataStore, collection: str) -> None:
        for name in ("a", "b", "c"):
            store.accept_document(draft(collection, name), {}, 4)
        store.request_delete(collection, "b", 4)

        assert [d.id for d in store.list_documents(collection, status=DocumentStatus.DELETED)] == ["b"]

    def test_list_documents_in_missing_collection_is_not_found(self, store: MetadataStore) -> None:
        with pytest.raises(NotFound):
            store.list_documents("nope")

    def test_list_documents_pages_return_every_document_once(
        self, store: MetadataStore, collection: str
    ) -> None:
        names = [f"doc-{i}" for i in range(7)]
        for name in names:
            store.accept_document(draft(collection, name), {}, 4)

        pages = all_pages(store, collection, limit=3)

        assert [len(p) for p in pages] == [3, 3, 1]
        assert sorted(sum(pages, [])) == sorted(names)


class PageTiesTest(StoreFixtures):
    """Keyset pages break ties on ``updated_at`` by id; needs the ``set_updated_at`` fixture."""

    @pytest.fixture
    def set_updated_at(self) -> SetUpdatedAt:
        """Set every document of a collection to the same ``updated_at``."""
        raise NotImplementedError("the adapter's test class provides set_updated_at")

    def test_list_documents_pages_break_timestamp_ties_by_id(
        self, store: MetadataStore, set_updated_at: SetUpdatedAt, collection: str
    ) -> None:
        names = [f"doc-{i}" for i in range(5)]
        for name in names:
            store.accept_document(draft(collection, name), {}, 4)
        set_updated_at(collection, 1000.0)

        pages = all_pages(store, collection, limit=2)

        assert sum(pages, []) == sorted(names, reverse=True)


class MetadataFilterTest(StoreFixtures):
    """list_documents with metadata filters (the same cases as the chunk store's served_keys)."""

    @pytest.fixture
    def filtered(self, store: MetadataStore, collection: str) -> str:
        """A collection holding ``FILTERED_DOCUMENTS``."""
        for name, metadata in FILTERED_DOCUMENTS.items():
            store.accept_document(draft(collection, name, metadata=metadata), {}, 4)
        return collection

    @pytest.mark.parametrize(("filters", "expected"), FILTER_CASES, ids=case_id)
    def test_list_documents_with_filters(
        self, store: MetadataStore, filtered: str, filters: list[FieldFilter], expected: str
    ) -> None:
        found = store.list_documents(filtered, filters=filters)

        assert sorted(d.id for d in found) == list(expected)

    def test_list_documents_filters_by_metadata_newest_first(
        self, store: MetadataStore, collection: str
    ) -> None:
        for name, year in (("a", 2019), ("b", 2021), ("c", 2023)):
            store.accept_document(draft(collection, name, metadata={"year": year}), {}, 4)

        found = store.list_documents(collection, filters=[FieldFilter("year", "gte", 2020)])

        assert [d.id for d in found] == ["c", "b"]

    @pytest.mark.parametrize("bad", INVALID_FILTERS.values(), ids=INVALID_FILTERS.keys())
    def test_invalid_filters_are_bad_requests(
        self, store: MetadataStore, collection: str, bad: FieldFilter
    ) -> None:
        with pytest.raises(BadRequest):
            store.list_documents(collection, filters=[bad])


class StatusTest(StoreFixtures):
    """set_document_status and set_documents_status: only the latest, undeleted version."""

    def test_set_document_status_applies_to_latest_version(
        self, store: MetadataStore, collection: str
    ) -> None:
        store.accept_document(draft(collection, "a"), {}, 4)

        store.set_document_status(collection, "a", 1, DocumentStatus.FAILED, ("parse_error", "bad pdf"))

        document = store.get_document(collection, "a")
        assert (document.status, document.error_code, document.error_message) == (
            DocumentStatus.FAILED,
            "parse_error",
            "bad pdf",
        )

    def test_set_document_status_ignores_superseded_version(
        self, store: MetadataStore, collection: str
    ) -> None:
        store.accept_document(draft(collection, "a", content="one"), {}, 4)
        store.accept_document(draft(collection, "a", content="two"), {}, 4)

        store.set_document_status(collection, "a", 1, DocumentStatus.FAILED, ("x", "y"))

        assert store.get_document(collection, "a").status == DocumentStatus.QUEUED

    def test_set_document_status_ignores_a_deleted_document(
        self, store: MetadataStore, collection: str
    ) -> None:
        store.accept_document(draft(collection, "a"), {}, 4)
        store.request_delete(collection, "a", 4)

        store.set_document_status(collection, "a", 1, DocumentStatus.READY)

        assert store.get_document(collection, "a").status == DocumentStatus.DELETED

    def test_set_documents_status_skips_superseded_and_deleted_versions(
        self, store: MetadataStore, collection: str
    ) -> None:
        for name in ("a", "b", "c"):
            store.accept_document(draft(collection, name), {}, 4)
        store.accept_document(draft(collection, "b", content="newer"), {}, 4)
        store.request_delete(collection, "c", 4)

        store.set_documents_status(
            [(collection, "a", 1), (collection, "b", 1), (collection, "c", 1)], DocumentStatus.PROCESSING
        )

        statuses = [store.get_document(collection, name).status for name in ("a", "b", "c")]
        assert statuses == [DocumentStatus.PROCESSING, DocumentStatus.QUEUED, DocumentStatus.DELETED]


class DeleteDocumentTest(StoreFixtures):
    """request_delete: hidden at once, one delete job."""

    def test_request_delete_marks_deleted_and_enqueues_delete_job(
        self, store: MetadataStore, admin: JobAdmin, collection: str
    ) -> None:
        store.accept_document(draft(collection, "a"), {}, 4)

        job_id = store.request_delete(collection, "a", 2)

        document = store.get_document(collection, "a")
        assert (document.status, document.job_id) == (DocumentStatus.DELETED, job_id)
        job = admin.get(job_id)
        assert (job.kind, job.document_id, job.max_attempts) == (JobKind.DELETE, "a", 2)

    def test_request_delete_twice_returns_the_same_job(
        self, store: MetadataStore, admin: JobAdmin, collection: str
    ) -> None:
        store.accept_document(draft(collection, "a"), {}, 4)
        first = store.request_delete(collection, "a", 4)

        assert store.request_delete(collection, "a", 4) == first
        assert len(admin.list(kind=JobKind.DELETE)) == 1

    def test_request_delete_of_missing_document_is_not_found(
        self, store: MetadataStore, collection: str
    ) -> None:
        with pytest.raises(NotFound):
            store.request_delete(collection, "missing", 4)


class MetadataStoreContract(
    CollectionsTest,
    DeleteCollectionTest,
    AcceptTest,
    AcceptBatchTest,
    ReadDocumentsTest,
    ListDocumentsTest,
    PageTiesTest,
    MetadataFilterTest,
    StatusTest,
    DeleteDocumentTest,
):
    """Every MetadataStore capability."""
