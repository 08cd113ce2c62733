"""JobQueue contract mixins for the worker's cycle: enqueue, lease, heartbeat, progress, complete, fail."""

from __future__ import annotations

import time

import pytest

from ragworks.domain import JobStatus
from ragworks.engines.queue.base import JobAdmin, JobQueue
from ragworks.errors import Conflict, NotFound
from ragworks.testing.queue_fixtures import (
    EXPIRED_S,
    KIND,
    OTHER,
    QueueFixtures,
    lease_one,
)


class EnqueueTest(QueueFixtures):
    """enqueue and get."""

    def test_enqueue_creates_a_queued_job(self, queue: JobQueue, admin: JobAdmin) -> None:
        job_id = queue.enqueue(KIND, {"n": 1}, collection="c", document_id="d", max_attempts=2)

        job = admin.get(job_id)
        assert (job.kind, job.status, job.payload, job.attempts) == (KIND, JobStatus.QUEUED, {"n": 1}, 0)
        assert (job.collection, job.document_id, job.max_attempts, job.history) == ("c", "d", 2, [])

    def test_get_missing_job_is_not_found(self, admin: JobAdmin) -> None:
        with pytest.raises(NotFound):
            admin.get("missing")

    def test_enqueue_with_a_chosen_id_uses_it(self, queue: JobQueue, admin: JobAdmin) -> None:
        assert queue.enqueue(KIND, {}, job_id="a" * 32) == "a" * 32

        assert admin.get("a" * 32).status == JobStatus.QUEUED

    def test_enqueue_with_an_id_that_exists_is_a_conflict(self, queue: JobQueue, admin: JobAdmin) -> None:
        queue.enqueue(KIND, {"first": True}, job_id="request-1")

        with pytest.raises(Conflict):
            queue.enqueue(KIND, {"first": False}, job_id="request-1")

        assert admin.get("request-1").payload == {"first": True}


class LeaseTest(QueueFixtures):
    """lease: due jobs of the asked kinds, oldest first, one owner at a time."""

    def test_lease_takes_only_requested_kinds(self, queue: JobQueue, admin: JobAdmin) -> None:
        wanted = queue.enqueue(KIND, {})
        other = queue.enqueue(OTHER, {})

        leased = queue.lease("w1", [KIND], 10, 60)

        assert [j.id for j in leased] == [wanted]
        assert admin.get(other).status == JobStatus.QUEUED

    def test_lease_takes_at_most_limit_jobs_oldest_first(self, queue: JobQueue) -> None:
        ids = [queue.enqueue(KIND, {"n": i}) for i in range(5)]

        leased = queue.lease("w1", [KIND], 3, 60)

        assert [j.id for j in leased] == ids[:3]

    def test_lease_marks_running_for_the_owner_and_counts_the_attempt(self, queue: JobQueue) -> None:
        queue.enqueue(KIND, {})
        before = time.time()

        job = lease_one(queue, "w1", lease_s=60)

        assert (job.status, job.lease_owner, job.attempts) == (JobStatus.RUNNING, "w1", 1)
        assert job.lease_expires_at is not None
        assert job.lease_expires_at >= before + 60
        assert job.started_at is not None

    def test_lease_of_empty_queue_is_empty(self, queue: JobQueue) -> None:
        assert queue.lease("w1", [KIND], 5, 60) == []

    def test_held_lease_is_not_leased_again(self, queue: JobQueue) -> None:
        queue.enqueue(KIND, {})
        lease_one(queue, "w1")

        assert queue.lease("w2", [KIND], 5, 60) == []

    def test_expired_lease_is_leased_again_with_another_attempt(self, queue: JobQueue) -> None:
        queue.enqueue(KIND, {})
        first = lease_one(queue, "w1", lease_s=EXPIRED_S)

        again = lease_one(queue, "w2")

        assert (again.id, again.lease_owner, again.attempts) == (first.id, "w2", 2)
        assert again.started_at == first.started_at


class HeartbeatTest(QueueFixtures):
    """heartbeat: extend the leases the owner still holds, report the others lost."""

    def test_heartbeat_extends_held_leases(self, queue: JobQueue, admin: JobAdmin) -> None:
        queue.enqueue(KIND, {})
        job = lease_one(queue, "w1", lease_s=0.01)

        assert queue.heartbeat("w1", [job.id], 60) == {job.id}

        time.sleep(0.03)
        assert queue.lease("w2", [KIND], 1, 60) == []
        expires = admin.get(job.id).lease_expires_at
        assert expires is not None
        assert expires > time.time() + 50

    def test_heartbeat_returns_only_jobs_the_owner_holds(self, queue: JobQueue, admin: JobAdmin) -> None:
        queue.enqueue(KIND, {})
        queue.enqueue(KIND, {})
        mine = lease_one(queue, "w1")
        theirs = lease_one(queue, "w2", lease_s=30)

        held = queue.heartbeat("w1", [mine.id, theirs.id], 90)

        assert held == {mine.id}
        assert admin.get(theirs.id).lease_expires_at == theirs.lease_expires_at

    def test_heartbeat_drops_a_cancelled_job(self, queue: JobQueue, admin: JobAdmin) -> None:
        queue.enqueue(KIND, {})
        job = lease_one(queue)
        admin.cancel(job.id)

        assert queue.heartbeat("w1", [job.id], 60) == set()

    def test_heartbeat_drops_a_job_taken_over_after_expiry(self, queue: JobQueue) -> None:
        queue.enqueue(KIND, {})
        job = lease_one(queue, "w1", lease_s=EXPIRED_S)
        lease_one(queue, "w2")

        assert queue.heartbeat("w1", [job.id], 60) == set()


class ProgressTest(QueueFixtures):
    """progress: recorded for held jobs only."""

    def test_progress_is_recorded_for_held_jobs(self, queue: JobQueue, admin: JobAdmin) -> None:
        queue.enqueue(KIND, {})
        job = lease_one(queue)

        queue.progress("w1", [job.id], 0.4, "embed")

        stored = admin.get(job.id)
        assert (stored.progress, stored.stage) == (0.4, "embed")

    def test_progress_by_another_owner_is_ignored(self, queue: JobQueue, admin: JobAdmin) -> None:
        queue.enqueue(KIND, {})
        job = lease_one(queue)

        queue.progress("w2", [job.id], 0.4, "embed")

        assert admin.get(job.id).stage is None


class CompleteTest(QueueFixtures):
    """complete and complete_many: only by the owner that still holds the lease."""

    def test_complete_by_the_owner_succeeds(self, queue: JobQueue, admin: JobAdmin) -> None:
        queue.enqueue(KIND, {})
        job = lease_one(queue)

        assert queue.complete("w1", job.id, {"chunks": 3}) is True

        done = admin.get(job.id)
        assert (done.status, done.result, done.progress, done.stage) == (
            JobStatus.SUCCEEDED,
            {"chunks": 3},
            1.0,
            "done",
        )
        assert (done.lease_owner, done.lease_expires_at) == (None, None)
        assert done.finished_at is not None

    def test_complete_by_another_owner_is_refused(self, queue: JobQueue, admin: JobAdmin) -> None:
        queue.enqueue(KIND, {})
        job = lease_one(queue, "w1")

        assert queue.complete("w2", job.id, {}) is False
        assert admin.get(job.id).status == JobStatus.RUNNING

    def test_complete_after_losing_the_lease_is_refused(self, queue: JobQueue) -> None:
        queue.enqueue(KIND, {})
        job = lease_one(queue, "w1", lease_s=EXPIRED_S)
        lease_one(queue, "w2")

        assert queue.complete("w1", job.id, {}) is False

    def test_complete_many_records_each_result_and_skips_a_lost_lease(
        self, queue: JobQueue, admin: JobAdmin
    ) -> None:
        for _ in range(3):
            queue.enqueue(KIND, {})
        kept, lost, other = queue.lease("w1", [KIND], 3, 60)
        admin.cancel(lost.id)

        held = queue.complete_many("w1", {kept.id: {"n": 1}, lost.id: {"n": 2}, other.id: {"n": 3}})

        assert held == {kept.id, other.id}
        assert [admin.get(j.id).result for j in (kept, other)] == [{"n": 1}, {"n": 3}]
        assert all(admin.get(j.id).status == JobStatus.SUCCEEDED for j in (kept, other))
        assert (admin.get(lost.id).status, admin.get(lost.id).result) == (JobStatus.CANCELLED, None)

    def test_complete_many_by_another_owner_changes_nothing(self, queue: JobQueue, admin: JobAdmin) -> None:
        queue.enqueue(KIND, {})
        job = lease_one(queue, "w1")

        assert queue.complete_many("w2", {job.id: {}}) == set()
        assert admin.get(job.id).status == JobStatus.RUNNING

    def test_complete_many_of_nothing_is_empty(self, queue: JobQueue) -> None:
        assert queue.complete_many("w1", {}) == set()


class FailTest(QueueFixtures):
    """fail: a failed attempt waits for its retry (backoff) or is dead, with its history."""

    def test_fail_with_retry_time_waits_as_failed(self, queue: JobQueue, admin: JobAdmin) -> None:
        queue.enqueue(KIND, {})
        job = lease_one(queue)

        status = queue.fail("w1", job, "ValueError", "boom", time.time() + 60)

        assert status == JobStatus.FAILED
        stored = admin.get(job.id)
        assert (stored.status, stored.error_type, stored.error_message) == (
            JobStatus.FAILED,
            "ValueError",
            "boom",
        )
        assert (stored.lease_owner, stored.finished_at) == (None, None)
        assert queue.lease("w1", [KIND], 1, 60) == []

    def test_failed_job_is_leased_again_once_due(self, queue: JobQueue) -> None:
        queue.enqueue(KIND, {})
        job = lease_one(queue)
        queue.fail("w1", job, "ValueError", "boom", time.time() - 1)

        again = lease_one(queue, "w2")

        assert (again.id, again.status, again.attempts) == (job.id, JobStatus.RUNNING, 2)

    def test_fail_without_retry_is_dead_with_history(self, queue: JobQueue, admin: JobAdmin) -> None:
        queue.enqueue(KIND, {})
        job = lease_one(queue)

        status = queue.fail("w1", job, "bad_request", "bad input", None)

        assert status == JobStatus.DEAD
        dead = admin.get(job.id)
        assert dead.status == JobStatus.DEAD
        assert dead.finished_at is not None
        [entry] = dead.history
        assert (entry["attempt"], entry["error_type"], entry["message"]) == (1, "bad_request", "bad input")
        assert queue.lease("w1", [KIND], 1, 60) == []

    def test_fail_appends_one_history_entry_per_attempt(self, queue: JobQueue, admin: JobAdmin) -> None:
        queue.enqueue(KIND, {})
        first = lease_one(queue)
        queue.fail("w1", first, "E", "one", time.time() - 1)
        second = lease_one(queue)

        queue.fail("w1", second, "E", "two", None)

        history = admin.get(first.id).history
        assert [(h["attempt"], h["message"]) for h in history] == [(1, "one"), (2, "two")]

    def test_an_outage_attempt_is_given_back_and_marked(self, queue: JobQueue, admin: JobAdmin) -> None:
        queue.enqueue(KIND, {})
        first = lease_one(queue)
        queue.fail("w1", first, "disk_full", "full", time.time() - 1, outage=True)
        second = lease_one(queue)
        queue.fail("w1", second, "E", "real", time.time() - 1)

        third = lease_one(queue)

        assert (first.attempts, second.attempts, third.attempts) == (1, 1, 2)
        history = admin.get(first.id).history
        assert [(h["attempt"], h.get("outage", False)) for h in history] == [(1, True), (1, False)]

    def test_fail_after_cancel_reports_the_stored_status(self, queue: JobQueue, admin: JobAdmin) -> None:
        queue.enqueue(KIND, {})
        job = lease_one(queue)
        admin.cancel(job.id)

        status = queue.fail("w1", job, "ValueError", "boom", None)

        assert status == admin.get(job.id).status == JobStatus.CANCELLED

    def test_fail_after_losing_the_lease_records_nothing(self, queue: JobQueue, admin: JobAdmin) -> None:
        queue.enqueue(KIND, {})
        lost = lease_one(queue, "w1", lease_s=EXPIRED_S)
        lease_one(queue, "w2")

        status = queue.fail("w1", lost, "ValueError", "late", None)

        stored = admin.get(lost.id)
        assert (status, stored.status, stored.lease_owner, stored.history) == (
            JobStatus.RUNNING,
            JobStatus.RUNNING,
            "w2",
            [],
        )
