"""MetadataStore contract mixins for accepting documents: versions, one by one and in batches."""

from __future__ import annotations

import pytest

from ragworks.domain import DocumentStatus, JobKind, JobStatus
from ragworks.engines.queue.base import JobAdmin
from ragworks.engines.store.base import MetadataStore
from ragworks.errors import NotFound
from ragworks.testing.builders import (
    draft,
)
from ragworks.testing.store_fixtures import Item, StoreFixtures


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

        assert (again.outcome, again.document.version) == ("created", 2)
        assert (again.document.status, again.document.active_version) == (DocumentStatus.QUEUED, None)


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
