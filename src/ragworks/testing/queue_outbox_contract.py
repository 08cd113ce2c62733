"""JobQueue contract mixin for the outbox: a finished job's events are written with its outcome.

Besides ``queue`` and ``admin`` the adapter's test class provides ``events``: the ``EventLog`` over the
same database. The queue needs no router here: events are written with or without one.
"""

from __future__ import annotations

import pytest

from ragworks.domain import JobKind, JobStatus
from ragworks.engines.queue.base import EventLog, JobAdmin, JobQueue
from ragworks.testing.queue_fixtures import EXPIRED_S, KIND, QueueFixtures, lease_one


class OutboxTest(QueueFixtures):
    """complete_many and fail (dead) append events in their transaction; nothing else does."""

    @pytest.fixture
    def events(self) -> EventLog:
        """The event log over the queue's database."""
        raise NotImplementedError("the adapter's test class provides an EventLog")

    def test_a_completed_ingest_job_has_its_job_and_document_events(
        self, queue: JobQueue, events: EventLog
    ) -> None:
        job_id = queue.enqueue(JobKind.INGEST, {"version": 1}, collection="c", document_id="d")
        [job] = queue.lease("w1", [JobKind.INGEST], 1, 60)

        queue.complete_many("w1", {job.id: {"document_id": "d", "version": 1, "chunks": 3}})

        found = events.list_events(after=0)
        assert [(e.kind, e.job_id, e.collection, e.document_id) for e in found] == [
            ("job.succeeded", job_id, "c", "d"),
            ("document.indexed", job_id, "c", "d"),
        ]
        assert found[1].data == {"document_id": "d", "version": 1, "chunks": 3}
        assert found[0].id < found[1].id

    def test_a_dead_job_has_its_error_with_the_status_code(self, queue: JobQueue, events: EventLog) -> None:
        queue.enqueue(JobKind.INGEST, {"version": 2}, collection="c", document_id="d")
        [job] = queue.lease("w1", [JobKind.INGEST], 1, 60)

        queue.fail("w1", job, "llm_error", "down", None, status_code=502, error_class="LLMError")

        dead, failed = events.list_events(after=0)
        assert (dead.kind, failed.kind) == ("job.dead", "document.failed")
        assert failed.data == {
            "version": 2,
            "error": {"code": "llm_error", "message": "down", "status_code": 502},
        }

    def test_the_status_code_and_error_class_go_into_the_history(
        self, queue: JobQueue, admin: JobAdmin
    ) -> None:
        queue.enqueue(KIND, {})
        job = lease_one(queue)

        queue.fail("w1", job, "busy", "locked", 1.0, status_code=503, error_class="Busy")

        [entry] = admin.get(job.id).history
        assert (entry["status_code"], entry["error_class"]) == (503, "Busy")

    def test_a_retried_failure_makes_no_event(self, queue: JobQueue, events: EventLog) -> None:
        queue.enqueue(KIND, {})
        job = lease_one(queue)

        assert queue.fail("w1", job, "E", "again", 1.0) == JobStatus.FAILED

        assert events.list_events() == []

    def test_a_lost_lease_makes_no_event(self, queue: JobQueue, events: EventLog) -> None:
        queue.enqueue(KIND, {})
        lost = lease_one(queue, "w1", lease_s=EXPIRED_S)
        assert lease_one(queue, "w2").id == lost.id  # taken over

        assert queue.complete_many("w1", {lost.id: {}}) == set()
        assert queue.fail("w1", lost, "E", "late", None) == JobStatus.RUNNING
        assert events.list_events() == []

    def test_listing_pages_after_a_cursor_and_filters(self, queue: JobQueue, events: EventLog) -> None:
        for collection in ("a", "b", "a"):
            queue.enqueue(KIND, {}, collection=collection)
            queue.complete("w1", lease_one(queue).id, {})

        first, second, third = events.list_events(after=0)
        assert [e.id for e in events.list_events()] == [third.id, second.id, first.id]
        assert events.list_events(after=first.id, limit=1) == [second]
        assert [e.collection for e in events.list_events(collection="a")] == ["a", "a"]
        assert events.list_events(kind="job.dead") == []

    def test_purge_deletes_old_events_a_batch_at_a_time(self, queue: JobQueue, events: EventLog) -> None:
        for _ in range(3):
            queue.enqueue(KIND, {})
            queue.complete("w1", lease_one(queue).id, {})
        newest = events.list_events(limit=1)[0]

        assert events.purge_events(before=newest.created_at + 1, limit=2) == 2
        assert events.purge_events(before=newest.created_at + 1, limit=2) == 1
        assert events.purge_events(before=newest.created_at + 1, limit=2) == 0
        assert events.list_events() == []

    def test_purge_keeps_recent_events(self, queue: JobQueue, events: EventLog) -> None:
        queue.enqueue(KIND, {})
        queue.complete("w1", lease_one(queue).id, {})
        [kept] = events.list_events()

        assert events.purge_events(before=kept.created_at - 60, limit=100) == 0
        assert events.list_events() == [kept]
