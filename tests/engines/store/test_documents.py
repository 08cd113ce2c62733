"""SqlMetadataStore documents: accepting versions with their ingest job, listing, status, delete."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from helpers.store import draft
from ragworks.domain import DocumentStatus, FieldFilter, JobKind, JobStatus
from ragworks.engines.queue.sql import SqlJobQueue
from ragworks.engines.store.schema import documents
from ragworks.engines.store.sql import SqlDatabase, SqlMetadataStore
from ragworks.errors import NotFound


def test_accept_new_document_is_created(store: SqlMetadataStore, collection: str) -> None:
    accepted = store.accept_document(draft(collection, "a", metadata={"k": 1}, title="A"), {}, 4)

    assert accepted.outcome == "created"
    document = accepted.document
    assert (document.version, document.active_version, document.status) == (1, None, DocumentStatus.QUEUED)
    assert (document.title, document.metadata, document.job_id) == ("A", {"k": 1}, accepted.job_id)


def test_accept_enqueues_ingest_job_with_version_1(
    store: SqlMetadataStore, queue: SqlJobQueue, collection: str
) -> None:
    accepted = store.accept_document(draft(collection, "a"), {"text": "some text"}, 3)

    assert accepted.job_id is not None
    job = queue.get(accepted.job_id)
    assert (job.kind, job.status) == (JobKind.INGEST, JobStatus.QUEUED)
    assert job.payload == {"text": "some text", "version": 1}
    assert (job.collection, job.document_id, job.max_attempts) == (collection, "a", 3)


def test_accept_same_content_is_unchanged_without_new_job(
    store: SqlMetadataStore, queue: SqlJobQueue, collection: str
) -> None:
    first = store.accept_document(draft(collection, "a"), {}, 4)

    again = store.accept_document(draft(collection, "a"), {}, 4)

    assert again.outcome == "unchanged"
    assert again.job_id == first.job_id
    assert again.document.version == 1
    assert len(queue.list()) == 1


def test_accept_same_content_new_metadata_is_metadata_updated(
    store: SqlMetadataStore, queue: SqlJobQueue, collection: str
) -> None:
    first = store.accept_document(draft(collection, "a", metadata={"year": 2020}), {}, 4)

    again = store.accept_document(draft(collection, "a", metadata={"year": 2021}), {}, 4)

    assert again.outcome == "metadata_updated"
    assert (again.document.metadata, again.document.version) == ({"year": 2021}, 1)
    assert again.job_id == first.job_id
    assert len(queue.list()) == 1


def test_accept_same_content_new_title_is_metadata_updated(store: SqlMetadataStore, collection: str) -> None:
    store.accept_document(draft(collection, "a", title="Old"), {}, 4)

    again = store.accept_document(draft(collection, "a", title="New"), {}, 4)

    assert again.outcome == "metadata_updated"
    assert store.get_document(collection, "a").title == "New"


def test_accept_same_content_without_title_keeps_title(store: SqlMetadataStore, collection: str) -> None:
    store.accept_document(draft(collection, "a", title="Kept"), {}, 4)

    again = store.accept_document(draft(collection, "a"), {}, 4)

    assert again.outcome == "unchanged"
    assert again.document.title == "Kept"


def test_accept_new_content_is_updated_as_version_2(
    store: SqlMetadataStore, queue: SqlJobQueue, collection: str
) -> None:
    first = store.accept_document(draft(collection, "a", content="one"), {}, 4)

    second = store.accept_document(draft(collection, "a", content="two"), {}, 4)

    assert second.outcome == "updated"
    assert second.document.version == 2
    assert second.job_id not in (None, first.job_id)
    assert second.document.job_id == second.job_id
    assert second.job_id is not None
    assert queue.get(second.job_id).payload["version"] == 2


def test_accept_into_missing_collection_is_not_found_and_enqueues_nothing(
    store: SqlMetadataStore, queue: SqlJobQueue
) -> None:
    with pytest.raises(NotFound):
        store.accept_document(draft("nope", "a"), {}, 4)

    assert queue.list() == []


def test_accept_same_content_after_failure_makes_a_new_version(
    store: SqlMetadataStore, collection: str
) -> None:
    store.accept_document(draft(collection, "a"), {}, 4)
    store.set_document_status(collection, "a", 1, DocumentStatus.FAILED, ("bad", "broken"))

    again = store.accept_document(draft(collection, "a"), {}, 4)

    assert (again.outcome, again.document.version) == ("updated", 2)
    assert (again.document.status, again.document.error_code) == (DocumentStatus.QUEUED, None)


def test_accept_same_content_after_delete_makes_a_new_version(
    store: SqlMetadataStore, collection: str
) -> None:
    store.accept_document(draft(collection, "a"), {}, 4)
    store.request_delete(collection, "a", 4)

    again = store.accept_document(draft(collection, "a"), {}, 4)

    assert (again.outcome, again.document.version) == ("updated", 2)
    assert again.document.status == DocumentStatus.QUEUED


def test_get_missing_document_is_not_found(store: SqlMetadataStore, collection: str) -> None:
    with pytest.raises(NotFound):
        store.get_document(collection, "missing")


def test_get_document_in_missing_collection_is_not_found(store: SqlMetadataStore) -> None:
    with pytest.raises(NotFound, match="collection"):
        store.get_document("nope", "a")


def test_set_document_status_applies_to_latest_version(store: SqlMetadataStore, collection: str) -> None:
    store.accept_document(draft(collection, "a"), {}, 4)

    store.set_document_status(collection, "a", 1, DocumentStatus.FAILED, ("parse_error", "bad pdf"))

    document = store.get_document(collection, "a")
    assert (document.status, document.error_code, document.error_message) == (
        DocumentStatus.FAILED,
        "parse_error",
        "bad pdf",
    )


def test_set_document_status_ignores_superseded_version(store: SqlMetadataStore, collection: str) -> None:
    store.accept_document(draft(collection, "a", content="one"), {}, 4)
    store.accept_document(draft(collection, "a", content="two"), {}, 4)

    store.set_document_status(collection, "a", 1, DocumentStatus.FAILED, ("x", "y"))

    assert store.get_document(collection, "a").status == DocumentStatus.QUEUED


def test_request_delete_marks_deleted_and_enqueues_delete_job(
    store: SqlMetadataStore, queue: SqlJobQueue, collection: str
) -> None:
    store.accept_document(draft(collection, "a"), {}, 4)

    job_id = store.request_delete(collection, "a", 2)

    document = store.get_document(collection, "a")
    assert (document.status, document.job_id) == (DocumentStatus.DELETED, job_id)
    job = queue.get(job_id)
    assert (job.kind, job.document_id, job.max_attempts) == (JobKind.DELETE, "a", 2)


def test_request_delete_twice_returns_the_same_job(
    store: SqlMetadataStore, queue: SqlJobQueue, collection: str
) -> None:
    store.accept_document(draft(collection, "a"), {}, 4)
    first = store.request_delete(collection, "a", 4)

    assert store.request_delete(collection, "a", 4) == first
    assert len(queue.list(kind=JobKind.DELETE)) == 1


def test_request_delete_of_missing_document_is_not_found(store: SqlMetadataStore, collection: str) -> None:
    with pytest.raises(NotFound):
        store.request_delete(collection, "missing", 4)


def test_list_documents_is_newest_first(store: SqlMetadataStore, collection: str) -> None:
    for name in ("a", "b", "c"):
        store.accept_document(draft(collection, name), {}, 4)

    assert [d.id for d in store.list_documents(collection)] == ["c", "b", "a"]


def test_list_documents_filters_by_status(store: SqlMetadataStore, collection: str) -> None:
    for name in ("a", "b", "c"):
        store.accept_document(draft(collection, name), {}, 4)
    store.request_delete(collection, "b", 4)

    assert [d.id for d in store.list_documents(collection, status=DocumentStatus.DELETED)] == ["b"]


def test_list_documents_filters_by_metadata(store: SqlMetadataStore, collection: str) -> None:
    for name, year in (("a", 2019), ("b", 2021), ("c", 2023)):
        store.accept_document(draft(collection, name, metadata={"year": year}), {}, 4)

    found = store.list_documents(collection, filters=[FieldFilter("year", "gte", 2020)])

    assert [d.id for d in found] == ["c", "b"]


def test_list_documents_in_missing_collection_is_not_found(store: SqlMetadataStore) -> None:
    with pytest.raises(NotFound):
        store.list_documents("nope")


def _all_pages(store: SqlMetadataStore, collection: str, limit: int) -> list[list[str]]:
    pages: list[list[str]] = []
    after: tuple[float, str] | None = None
    while page := store.list_documents(collection, limit=limit, after=after):
        pages.append([d.id for d in page])
        after = (page[-1].updated_at, page[-1].id)
    return pages


def test_list_documents_pages_return_every_document_once(store: SqlMetadataStore, collection: str) -> None:
    names = [f"doc-{i}" for i in range(7)]
    for name in names:
        store.accept_document(draft(collection, name), {}, 4)

    pages = _all_pages(store, collection, limit=3)

    assert [len(p) for p in pages] == [3, 3, 1]
    assert sorted(sum(pages, [])) == sorted(names)


def test_list_documents_pages_break_timestamp_ties_by_id(
    db: SqlDatabase, store: SqlMetadataStore, collection: str
) -> None:
    names = [f"doc-{i}" for i in range(5)]
    for name in names:
        store.accept_document(draft(collection, name), {}, 4)
    with db.writer.begin() as conn:
        conn.execute(update(documents).values(updated_at=1000.0))

    pages = _all_pages(store, collection, limit=2)

    assert sum(pages, []) == sorted(names, reverse=True)


def test_accept_documents_decides_repeated_ids_in_order(store: SqlMetadataStore, collection: str) -> None:
    batch = [
        (draft(collection, "a", content="one"), {}),
        (draft(collection, "a", content="one"), {}),
        (draft(collection, "a", content="one", metadata={"k": 1}), {}),
        (draft(collection, "a", content="two"), {}),
        (draft(collection, "b"), {}),
    ]

    accepted = store.accept_documents(batch, 4)

    assert [a.outcome for a in accepted] == ["created", "unchanged", "metadata_updated", "updated", "created"]
    assert [a.document.version for a in accepted] == [1, 1, 1, 2, 1]
    assert accepted[2].document.metadata == {"k": 1}
    assert accepted[1].job_id == accepted[0].job_id != accepted[3].job_id
    stored = store.get_document(collection, "a")
    assert (stored.version, stored.job_id, stored.metadata) == (2, accepted[3].job_id, {})


def test_accept_documents_enqueues_one_job_per_new_version(
    store: SqlMetadataStore, queue: SqlJobQueue, collection: str
) -> None:
    batch = [
        (draft(collection, "a", content="one"), {"text": "one"}),
        (draft(collection, "a", content="two"), {}),
    ]

    accepted = store.accept_documents(batch, 3)

    jobs = {job.id: job for job in queue.list(kind=JobKind.INGEST)}
    assert set(jobs) == {a.job_id for a in accepted}
    assert jobs[accepted[0].job_id].payload == {"text": "one", "version": 1}
    assert (jobs[accepted[1].job_id].payload, jobs[accepted[1].job_id].max_attempts) == ({"version": 2}, 3)


def test_accept_documents_matches_one_at_a_time_for_stored_documents(
    store: SqlMetadataStore, collection: str
) -> None:
    store.accept_document(draft(collection, "a", title="Kept"), {}, 4)
    store.accept_document(draft(collection, "b", content="old"), {}, 4)
    batch = [(draft(collection, "a", metadata={"n": 1}), {}), (draft(collection, "b", content="new"), {})]

    renamed, updated = store.accept_documents(batch, 4)

    assert (renamed.outcome, renamed.document.title) == ("metadata_updated", "Kept")
    assert (updated.outcome, updated.document.version) == ("updated", 2)
    assert store.get_document(collection, "a") == renamed.document
    assert store.get_document(collection, "b") == updated.document


def test_accept_documents_stores_nothing_when_a_collection_is_missing(
    store: SqlMetadataStore, queue: SqlJobQueue, collection: str
) -> None:
    with pytest.raises(NotFound):
        store.accept_documents([(draft(collection, "a"), {}), (draft("nope", "b"), {})], 4)

    assert store.list_documents(collection) == []
    assert queue.list() == []


def test_get_documents_returns_those_that_exist(store: SqlMetadataStore, collection: str) -> None:
    store.accept_document(draft(collection, "a"), {}, 4)

    found = store.get_documents([(collection, "a"), (collection, "missing"), ("nope", "a")])

    assert list(found) == [(collection, "a")]
    assert found[(collection, "a")] == store.get_document(collection, "a")


def test_set_documents_status_skips_superseded_and_deleted_versions(
    store: SqlMetadataStore, collection: str
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
