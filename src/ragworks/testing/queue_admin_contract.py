"""JobAdmin contract mixins: retry, cancel, list and count jobs."""

from __future__ import annotations

import time

import pytest

from ragworks.domain import JobStatus
from ragworks.engines.queue.base import JobAdmin, JobQueue
from ragworks.errors import Conflict, NotFound
from ragworks.testing.queue_fixtures import (
    KIND,
    OTHER,
    QueueFixtures,
    lease_one,
)


class RetryTest(QueueFixtures):
    """JobAdmin.retry: replay a dead, failed or cancelled job with a fresh budget."""

    def test_retry_of_a_dead_job_queues_it_with_a_fresh_budget(
        self, queue: JobQueue, admin: JobAdmin
    ) -> None:
        queue.enqueue(KIND, {})
        job = lease_one(queue)
        queue.fail("w1", job, "E", "boom", None)

        replayed = admin.retry(job.id)

        assert (replayed.status, replayed.attempts, replayed.finished_at) == (JobStatus.QUEUED, 0, None)
        assert lease_one(queue).id == job.id

    def test_retry_of_a_failed_job_runs_it_now(self, queue: JobQueue, admin: JobAdmin) -> None:
        queue.enqueue(KIND, {})
        job = lease_one(queue)
        queue.fail("w1", job, "E", "boom", time.time() + 3600)

        admin.retry(job.id)

        assert lease_one(queue, "w2").id == job.id

    def test_retry_of_a_cancelled_job_queues_it(self, queue: JobQueue, admin: JobAdmin) -> None:
        job_id = queue.enqueue(KIND, {})
        admin.cancel(job_id)

        assert admin.retry(job_id).status == JobStatus.QUEUED

    def test_retry_of_a_succeeded_job_conflicts(self, queue: JobQueue, admin: JobAdmin) -> None:
        queue.enqueue(KIND, {})
        job = lease_one(queue)
        queue.complete("w1", job.id, {})

        with pytest.raises(Conflict):
            admin.retry(job.id)

    def test_retry_of_a_running_job_conflicts(self, queue: JobQueue, admin: JobAdmin) -> None:
        queue.enqueue(KIND, {})
        job = lease_one(queue)

        with pytest.raises(Conflict):
            admin.retry(job.id)

    def test_retry_of_a_missing_job_is_not_found(self, admin: JobAdmin) -> None:
        with pytest.raises(NotFound):
            admin.retry("missing")


class CancelTest(QueueFixtures):
    """JobAdmin.cancel: a job that has not finished; a running one loses its lease."""

    def test_cancel_of_a_queued_job(self, queue: JobQueue, admin: JobAdmin) -> None:
        job_id = queue.enqueue(KIND, {})

        cancelled = admin.cancel(job_id)

        assert cancelled.status == JobStatus.CANCELLED
        assert cancelled.finished_at is not None
        assert queue.lease("w1", [KIND], 1, 60) == []

    def test_complete_by_the_old_owner_of_a_cancelled_running_job_is_refused(
        self, queue: JobQueue, admin: JobAdmin
    ) -> None:
        queue.enqueue(KIND, {})
        job = lease_one(queue)
        admin.cancel(job.id)

        assert queue.complete("w1", job.id, {"late": True}) is False
        stored = admin.get(job.id)
        assert (stored.status, stored.result) == (JobStatus.CANCELLED, None)

    def test_cancel_of_a_finished_job_conflicts(self, queue: JobQueue, admin: JobAdmin) -> None:
        queue.enqueue(KIND, {})
        job = lease_one(queue)
        queue.complete("w1", job.id, {})

        with pytest.raises(Conflict):
            admin.cancel(job.id)

    def test_cancel_of_a_missing_job_is_not_found(self, admin: JobAdmin) -> None:
        with pytest.raises(NotFound):
            admin.cancel("missing")


class ListJobsTest(QueueFixtures):
    """JobAdmin.list: newest first, filtered, keyset pages."""

    def test_list_is_newest_first_and_filtered(self, queue: JobQueue, admin: JobAdmin) -> None:
        first = queue.enqueue(KIND, {}, collection="c1")
        second = queue.enqueue(OTHER, {}, collection="c2")
        third = queue.enqueue(KIND, {}, collection="c2")

        assert [j.id for j in admin.list()] == [third, second, first]
        assert [j.id for j in admin.list(kind=KIND)] == [third, first]
        assert [j.id for j in admin.list(collection="c2", limit=1)] == [third]
        assert [j.id for j in admin.list(before=admin.get(second).created_at)] == [first]

    def test_list_filters_by_status(self, queue: JobQueue, admin: JobAdmin) -> None:
        queue.enqueue(KIND, {})
        cancelled = queue.enqueue(KIND, {})
        admin.cancel(cancelled)

        assert [j.id for j in admin.list(status=JobStatus.CANCELLED)] == [cancelled]

    def test_list_since_keeps_jobs_created_at_or_after(self, queue: JobQueue, admin: JobAdmin) -> None:
        first = queue.enqueue(KIND, {})
        second = queue.enqueue(KIND, {})
        third = queue.enqueue(KIND, {})
        since = admin.get(second).created_at

        assert [j.id for j in admin.list(since=since)] == [third, second]
        assert [j.id for j in admin.list(since=since, before=admin.get(third).created_at)] == [second]
        assert first not in {j.id for j in admin.list(since=since)}


class CountsTest(QueueFixtures):
    """JobAdmin.counts and oldest_waiting: what metrics read at every scrape."""

    def test_counts_by_kind_and_status(self, queue: JobQueue, admin: JobAdmin) -> None:
        queue.enqueue(KIND, {})
        queue.enqueue(KIND, {})
        queue.enqueue(OTHER, {})
        job = lease_one(queue)
        queue.complete("w1", job.id, {})

        assert admin.counts() == {
            (KIND, JobStatus.SUCCEEDED): 1,
            (KIND, JobStatus.QUEUED): 1,
            (OTHER, JobStatus.QUEUED): 1,
        }

    def test_oldest_waiting_is_the_earliest_due_time_per_kind(self, queue: JobQueue, admin: JobAdmin) -> None:
        queue.enqueue(KIND, {})
        second = queue.enqueue(KIND, {})
        third = queue.enqueue(KIND, {})
        other = queue.enqueue(OTHER, {})
        lease_one(queue)  # the oldest KIND job: a running job is not waiting

        oldest = admin.oldest_waiting([KIND, OTHER, "test.none"])

        assert oldest == {KIND: admin.get(second).next_run_at, OTHER: admin.get(other).next_run_at}
        assert oldest[KIND] <= admin.get(third).next_run_at

    def test_oldest_waiting_counts_failed_jobs_from_their_retry_time(
        self, queue: JobQueue, admin: JobAdmin
    ) -> None:
        queue.enqueue(KIND, {})
        job = lease_one(queue)
        retry_at = time.time() + 3600
        queue.fail("w1", job, "E", "boom", retry_at)

        assert admin.oldest_waiting([KIND]) == {KIND: retry_at}

    def test_oldest_waiting_leaves_out_finished_jobs(self, queue: JobQueue, admin: JobAdmin) -> None:
        queue.enqueue(KIND, {})
        queue.complete("w1", lease_one(queue).id, {})
        queue.enqueue(OTHER, {})
        queue.fail("w1", queue.lease("w1", [OTHER], 1, 60)[0], "E", "boom", None)  # dead at once

        assert admin.oldest_waiting([KIND, OTHER]) == {}
        assert admin.oldest_waiting([]) == {}
