"""MetadataStore contract mixins for stored documents: read, list, filter, status, delete."""

from __future__ import annotations

import pytest

from ragworks.domain import DocumentStatus, FieldFilter, JobKind
from ragworks.engines.queue.base import JobAdmin
from ragworks.engines.store.base import MetadataStore
from ragworks.errors import BadRequest, NotFound
from ragworks.testing.builders import (
    FILTER_CASES,
    FILTERED_DOCUMENTS,
    INVALID_FILTERS,
    case_id,
    draft,
)
from ragworks.testing.store_fixtures import SetUpdatedAt, StoreFixtures


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
