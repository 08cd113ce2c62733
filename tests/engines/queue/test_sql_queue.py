"""SqlJobQueue: leases, heartbeats, completion, failure with retry or dead-letter, replay, cancel."""

from __future__ import annotations

import time

import pytest

from ragworks.domain import Job, JobStatus
from ragworks.engines.queue.sql import SqlJobQueue
from ragworks.errors import Conflict, NotFound

KIND = "test.work"
OTHER = "test.other"


def _lease_one(queue: SqlJobQueue, owner: str = "w1", lease_s: float = 60) -> Job:
    [job] = queue.lease(owner, [KIND], 1, lease_s)
    return job


def test_enqueue_creates_a_queued_job(queue: SqlJobQueue) -> None:
    job_id = queue.enqueue(KIND, {"n": 1}, collection="c", document_id="d", max_attempts=2)

    job = queue.get(job_id)
    assert (job.kind, job.status, job.payload, job.attempts) == (KIND, JobStatus.QUEUED, {"n": 1}, 0)
    assert (job.collection, job.document_id, job.max_attempts, job.history) == ("c", "d", 2, [])


def test_get_missing_job_is_not_found(queue: SqlJobQueue) -> None:
    with pytest.raises(NotFound):
        queue.get("missing")


def test_lease_takes_only_requested_kinds(queue: SqlJobQueue) -> None:
    wanted = queue.enqueue(KIND, {})
    other = queue.enqueue(OTHER, {})

    leased = queue.lease("w1", [KIND], 10, 60)

    assert [j.id for j in leased] == [wanted]
    assert queue.get(other).status == JobStatus.QUEUED


def test_lease_takes_at_most_limit_jobs_oldest_first(queue: SqlJobQueue) -> None:
    ids = [queue.enqueue(KIND, {"n": i}) for i in range(5)]

    leased = queue.lease("w1", [KIND], 3, 60)

    assert [j.id for j in leased] == ids[:3]


def test_lease_marks_running_for_the_owner_and_counts_the_attempt(queue: SqlJobQueue) -> None:
    queue.enqueue(KIND, {})
    before = time.time()

    job = _lease_one(queue, "w1", lease_s=60)

    assert (job.status, job.lease_owner, job.attempts) == (JobStatus.RUNNING, "w1", 1)
    assert job.lease_expires_at is not None
    assert job.lease_expires_at >= before + 60
    assert job.started_at is not None


def test_lease_of_empty_queue_is_empty(queue: SqlJobQueue) -> None:
    assert queue.lease("w1", [KIND], 5, 60) == []


def test_held_lease_is_not_leased_again(queue: SqlJobQueue) -> None:
    queue.enqueue(KIND, {})
    _lease_one(queue, "w1")

    assert queue.lease("w2", [KIND], 5, 60) == []


def test_expired_lease_is_leased_again_with_another_attempt(queue: SqlJobQueue) -> None:
    queue.enqueue(KIND, {})
    first = _lease_one(queue, "w1", lease_s=0.01)
    time.sleep(0.03)

    again = _lease_one(queue, "w2")

    assert (again.id, again.lease_owner, again.attempts) == (first.id, "w2", 2)
    assert again.started_at == first.started_at


def test_heartbeat_extends_held_leases(queue: SqlJobQueue) -> None:
    queue.enqueue(KIND, {})
    job = _lease_one(queue, "w1", lease_s=0.01)

    assert queue.heartbeat("w1", [job.id], 60) == {job.id}

    time.sleep(0.03)
    assert queue.lease("w2", [KIND], 1, 60) == []
    expires = queue.get(job.id).lease_expires_at
    assert expires is not None
    assert expires > time.time() + 50


def test_heartbeat_returns_only_jobs_the_owner_holds(queue: SqlJobQueue) -> None:
    queue.enqueue(KIND, {})
    queue.enqueue(KIND, {})
    mine = _lease_one(queue, "w1")
    theirs = _lease_one(queue, "w2", lease_s=30)

    held = queue.heartbeat("w1", [mine.id, theirs.id], 90)

    assert held == {mine.id}
    assert queue.get(theirs.id).lease_expires_at == theirs.lease_expires_at


def test_heartbeat_drops_a_cancelled_job(queue: SqlJobQueue) -> None:
    queue.enqueue(KIND, {})
    job = _lease_one(queue)
    queue.cancel(job.id)

    assert queue.heartbeat("w1", [job.id], 60) == set()


def test_progress_is_recorded_for_held_jobs(queue: SqlJobQueue) -> None:
    queue.enqueue(KIND, {})
    job = _lease_one(queue)

    queue.progress("w1", [job.id], 0.4, "embed")

    stored = queue.get(job.id)
    assert (stored.progress, stored.stage) == (0.4, "embed")


def test_progress_by_another_owner_is_ignored(queue: SqlJobQueue) -> None:
    queue.enqueue(KIND, {})
    job = _lease_one(queue)

    queue.progress("w2", [job.id], 0.4, "embed")

    assert queue.get(job.id).stage is None


def test_complete_by_the_owner_succeeds(queue: SqlJobQueue) -> None:
    queue.enqueue(KIND, {})
    job = _lease_one(queue)

    assert queue.complete("w1", job.id, {"chunks": 3}) is True

    done = queue.get(job.id)
    assert (done.status, done.result, done.progress, done.stage) == (
        JobStatus.SUCCEEDED,
        {"chunks": 3},
        1.0,
        "done",
    )
    assert (done.lease_owner, done.lease_expires_at) == (None, None)
    assert done.finished_at is not None


def test_complete_by_another_owner_is_refused(queue: SqlJobQueue) -> None:
    queue.enqueue(KIND, {})
    job = _lease_one(queue, "w1")

    assert queue.complete("w2", job.id, {}) is False
    assert queue.get(job.id).status == JobStatus.RUNNING


def test_complete_after_losing_the_lease_is_refused(queue: SqlJobQueue) -> None:
    queue.enqueue(KIND, {})
    job = _lease_one(queue, "w1", lease_s=0.01)
    time.sleep(0.03)
    _lease_one(queue, "w2")

    assert queue.complete("w1", job.id, {}) is False


def test_fail_with_retry_time_waits_as_failed(queue: SqlJobQueue) -> None:
    queue.enqueue(KIND, {})
    job = _lease_one(queue)

    status = queue.fail("w1", job, "ValueError", "boom", time.time() + 60)

    assert status == JobStatus.FAILED
    stored = queue.get(job.id)
    assert (stored.status, stored.error_type, stored.error_message) == (
        JobStatus.FAILED,
        "ValueError",
        "boom",
    )
    assert (stored.lease_owner, stored.finished_at) == (None, None)
    assert queue.lease("w1", [KIND], 1, 60) == []


def test_failed_job_is_leased_again_once_due(queue: SqlJobQueue) -> None:
    queue.enqueue(KIND, {})
    job = _lease_one(queue)
    queue.fail("w1", job, "ValueError", "boom", time.time() - 1)

    again = _lease_one(queue, "w2")

    assert (again.id, again.status, again.attempts) == (job.id, JobStatus.RUNNING, 2)


def test_fail_without_retry_is_dead_with_history(queue: SqlJobQueue) -> None:
    queue.enqueue(KIND, {})
    job = _lease_one(queue)

    status = queue.fail("w1", job, "bad_request", "bad input", None)

    assert status == JobStatus.DEAD
    dead = queue.get(job.id)
    assert dead.status == JobStatus.DEAD
    assert dead.finished_at is not None
    [entry] = dead.history
    assert (entry["attempt"], entry["error_type"], entry["message"]) == (1, "bad_request", "bad input")
    assert queue.lease("w1", [KIND], 1, 60) == []


def test_fail_appends_one_history_entry_per_attempt(queue: SqlJobQueue) -> None:
    queue.enqueue(KIND, {})
    first = _lease_one(queue)
    queue.fail("w1", first, "E", "one", time.time() - 1)
    second = _lease_one(queue)

    queue.fail("w1", second, "E", "two", None)

    history = queue.get(first.id).history
    assert [(h["attempt"], h["message"]) for h in history] == [(1, "one"), (2, "two")]


def test_fail_after_cancel_reports_the_stored_status(queue: SqlJobQueue) -> None:
    queue.enqueue(KIND, {})
    job = _lease_one(queue)
    queue.cancel(job.id)

    status = queue.fail("w1", job, "ValueError", "boom", None)

    assert status == queue.get(job.id).status == JobStatus.CANCELLED


def test_retry_of_a_dead_job_queues_it_with_a_fresh_budget(queue: SqlJobQueue) -> None:
    queue.enqueue(KIND, {})
    job = _lease_one(queue)
    queue.fail("w1", job, "E", "boom", None)

    replayed = queue.retry(job.id)

    assert (replayed.status, replayed.attempts, replayed.finished_at) == (JobStatus.QUEUED, 0, None)
    assert _lease_one(queue).id == job.id


def test_retry_of_a_succeeded_job_conflicts(queue: SqlJobQueue) -> None:
    queue.enqueue(KIND, {})
    job = _lease_one(queue)
    queue.complete("w1", job.id, {})

    with pytest.raises(Conflict):
        queue.retry(job.id)


def test_retry_of_a_missing_job_is_not_found(queue: SqlJobQueue) -> None:
    with pytest.raises(NotFound):
        queue.retry("missing")


def test_cancel_of_a_queued_job(queue: SqlJobQueue) -> None:
    job_id = queue.enqueue(KIND, {})

    cancelled = queue.cancel(job_id)

    assert cancelled.status == JobStatus.CANCELLED
    assert cancelled.finished_at is not None
    assert queue.lease("w1", [KIND], 1, 60) == []


def test_complete_by_the_old_owner_of_a_cancelled_running_job_is_refused(queue: SqlJobQueue) -> None:
    queue.enqueue(KIND, {})
    job = _lease_one(queue)
    queue.cancel(job.id)

    assert queue.complete("w1", job.id, {"late": True}) is False
    stored = queue.get(job.id)
    assert (stored.status, stored.result) == (JobStatus.CANCELLED, None)


def test_cancel_of_a_finished_job_conflicts(queue: SqlJobQueue) -> None:
    queue.enqueue(KIND, {})
    job = _lease_one(queue)
    queue.complete("w1", job.id, {})

    with pytest.raises(Conflict):
        queue.cancel(job.id)


def test_retry_of_a_cancelled_job_queues_it(queue: SqlJobQueue) -> None:
    job_id = queue.enqueue(KIND, {})
    queue.cancel(job_id)

    assert queue.retry(job_id).status == JobStatus.QUEUED


def test_counts_by_kind_and_status(queue: SqlJobQueue) -> None:
    queue.enqueue(KIND, {})
    queue.enqueue(KIND, {})
    queue.enqueue(OTHER, {})
    job = _lease_one(queue)
    queue.complete("w1", job.id, {})

    assert queue.counts() == {
        (KIND, JobStatus.SUCCEEDED): 1,
        (KIND, JobStatus.QUEUED): 1,
        (OTHER, JobStatus.QUEUED): 1,
    }


def test_release_all_makes_running_jobs_leasable_at_once(queue: SqlJobQueue) -> None:
    queue.enqueue(KIND, {})
    queue.enqueue(KIND, {})
    queue.lease("old-process", [KIND], 2, 600)

    assert queue.release("") == 2

    assert {j.lease_owner for j in queue.lease("new-process", [KIND], 5, 60)} == {"new-process"}


def test_release_only_touches_owners_with_the_prefix(queue: SqlJobQueue) -> None:
    queue.enqueue(KIND, {})
    queue.enqueue(KIND, {})
    _lease_one(queue, "host-a-1")
    kept = _lease_one(queue, "host-b-1")

    assert queue.release("host-a") == 1

    [released] = queue.lease("w", [KIND], 5, 60)
    assert released.id != kept.id


def test_release_ignores_jobs_that_are_not_running(queue: SqlJobQueue) -> None:
    queue.enqueue(KIND, {})

    assert queue.release("") == 0


def test_list_is_newest_first_and_filtered(queue: SqlJobQueue) -> None:
    first = queue.enqueue(KIND, {}, collection="c1")
    second = queue.enqueue(OTHER, {}, collection="c2")
    third = queue.enqueue(KIND, {}, collection="c2")

    assert [j.id for j in queue.list()] == [third, second, first]
    assert [j.id for j in queue.list(kind=KIND)] == [third, first]
    assert [j.id for j in queue.list(collection="c2", limit=1)] == [third]
    assert [j.id for j in queue.list(before=queue.get(second).created_at)] == [first]


def test_blob_in_use_by_a_queued_job(queue: SqlJobQueue) -> None:
    queue.enqueue(KIND, {"blob": "b1"})
    mine = queue.enqueue(KIND, {"blob": "b1"})

    assert queue.blob_in_use("b1", excluding=mine) is True


def test_blob_not_in_use_when_only_the_excluded_job_refers_to_it(queue: SqlJobQueue) -> None:
    mine = queue.enqueue(KIND, {"blob": "b1"})
    queue.enqueue(KIND, {"blob": "other"})
    queue.enqueue(KIND, {})

    assert queue.blob_in_use("b1", excluding=mine) is False


def test_blob_not_in_use_by_finished_jobs(queue: SqlJobQueue) -> None:
    done = queue.enqueue(KIND, {"blob": "b1"})
    job = _lease_one(queue)
    queue.complete("w1", job.id, {})
    cancelled = queue.enqueue(KIND, {"blob": "b1"})
    queue.cancel(cancelled)

    assert queue.blob_in_use("b1", excluding="someone-else") is False
    assert job.id == done


def test_blob_in_use_by_a_dead_job_that_may_be_replayed(queue: SqlJobQueue) -> None:
    queue.enqueue(KIND, {"blob": "b1"})
    job = _lease_one(queue)
    queue.fail("w1", job, "E", "boom", None)

    assert queue.blob_in_use("b1", excluding="someone-else") is True


def test_complete_many_records_each_result_and_skips_a_lost_lease(queue: SqlJobQueue) -> None:
    for _ in range(3):
        queue.enqueue(KIND, {})
    kept, lost, other = queue.lease("w1", [KIND], 3, 60)
    queue.cancel(lost.id)

    held = queue.complete_many("w1", {kept.id: {"n": 1}, lost.id: {"n": 2}, other.id: {"n": 3}})

    assert held == {kept.id, other.id}
    assert [queue.get(j.id).result for j in (kept, other)] == [{"n": 1}, {"n": 3}]
    assert all(queue.get(j.id).status == JobStatus.SUCCEEDED for j in (kept, other))
    assert (queue.get(lost.id).status, queue.get(lost.id).result) == (JobStatus.CANCELLED, None)


def test_complete_many_by_another_owner_changes_nothing(queue: SqlJobQueue) -> None:
    queue.enqueue(KIND, {})
    job = _lease_one(queue, "w1")

    assert queue.complete_many("w2", {job.id: {}}) == set()
    assert queue.get(job.id).status == JobStatus.RUNNING
