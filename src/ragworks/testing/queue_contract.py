"""Contract tests every JobQueue and JobAdmin adapter must pass, one mixin per capability.

An adapter's test class lists the mixins it passes (or ``JobQueueContract`` and ``JobAdminContract``
for all of them) after a base that provides, over one fresh, started, empty queue:

- ``queue``: the ``JobQueue`` under test;
- ``admin``: the ``JobAdmin`` over the same jobs (often the same object);
- ``open_queue`` (``ConcurrentLeaseTest`` only): a picklable callable that, in another process,
  returns a context manager yielding a started ``JobQueue`` over those same jobs (a module-level
  function bound to a URL with ``functools.partial``, for instance).

Fixtures are looked up along the class's MRO, so the base that provides them comes first::

    class TestSqlJobQueue(SqliteStores, JobQueueContract, JobAdminContract): ...

Expired leases are made through the port: a lease of ``EXPIRED_S`` seconds is over at once.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from queue import Empty
from typing import Any

import pytest

from ragworks.domain import Job, JobStatus
from ragworks.engines.queue.base import JobAdmin, JobQueue
from ragworks.errors import Conflict, NotFound

KIND = "test.work"
OTHER = "test.other"
EXPIRED_S = -60.0  # a lease that is over as soon as it is taken
WAKE_UP_WAIT_S = 5.0  # how long a wake-up may take to arrive (an adapter may deliver it on a thread)
QUIET_WAIT_S = 0.2  # how long to watch for a wake-up that must not come

QueueOpener = Callable[[], AbstractContextManager[JobQueue]]


def lease_one(queue: JobQueue, owner: str = "w1", lease_s: float = 60) -> Job:
    """Lease exactly one job of ``KIND``."""
    [job] = queue.lease(owner, [KIND], 1, lease_s)
    return job


class QueueFixtures:
    """The fixtures every queue mixin uses; adapters' test classes override them."""

    @pytest.fixture
    def queue(self) -> JobQueue:
        """The job queue under test, empty."""
        raise NotImplementedError("the adapter's test class provides a started JobQueue")

    @pytest.fixture
    def admin(self) -> JobAdmin:
        """The job admin over the same jobs as ``queue``."""
        raise NotImplementedError("the adapter's test class provides a JobAdmin")


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


class CountsTest(QueueFixtures):
    """JobAdmin.counts."""

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


class ReleaseTest(QueueFixtures):
    """release: running jobs of a gone owner become leasable at once."""

    def test_release_all_makes_running_jobs_leasable_at_once(self, queue: JobQueue) -> None:
        queue.enqueue(KIND, {})
        queue.enqueue(KIND, {})
        queue.lease("old-process", [KIND], 2, 600)

        assert queue.release("") == 2

        assert {j.lease_owner for j in queue.lease("new-process", [KIND], 5, 60)} == {"new-process"}

    def test_release_only_touches_owners_with_the_prefix(self, queue: JobQueue) -> None:
        queue.enqueue(KIND, {})
        queue.enqueue(KIND, {})
        lease_one(queue, "host-a-1")
        kept = lease_one(queue, "host-b-1")

        assert queue.release("host-a") == 1

        [released] = queue.lease("w", [KIND], 5, 60)
        assert released.id != kept.id

    def test_release_ignores_jobs_that_are_not_running(self, queue: JobQueue) -> None:
        queue.enqueue(KIND, {})

        assert queue.release("") == 0


class BlobInUseTest(QueueFixtures):
    """blob_in_use: whether another job that may still run refers to a blob."""

    def test_blob_in_use_by_a_queued_job(self, queue: JobQueue) -> None:
        queue.enqueue(KIND, {"blob": "b1"})
        mine = queue.enqueue(KIND, {"blob": "b1"})

        assert queue.blob_in_use("b1", excluding=mine) is True

    def test_blob_not_in_use_when_only_the_excluded_job_refers_to_it(self, queue: JobQueue) -> None:
        mine = queue.enqueue(KIND, {"blob": "b1"})
        queue.enqueue(KIND, {"blob": "other"})
        queue.enqueue(KIND, {})

        assert queue.blob_in_use("b1", excluding=mine) is False

    def test_blob_not_in_use_by_finished_jobs(self, queue: JobQueue, admin: JobAdmin) -> None:
        done = queue.enqueue(KIND, {"blob": "b1"})
        job = lease_one(queue)
        queue.complete("w1", job.id, {})
        cancelled = queue.enqueue(KIND, {"blob": "b1"})
        admin.cancel(cancelled)

        assert queue.blob_in_use("b1", excluding="someone-else") is False
        assert job.id == done

    def test_blob_in_use_by_a_dead_job_that_may_be_replayed(self, queue: JobQueue) -> None:
        queue.enqueue(KIND, {"blob": "b1"})
        job = lease_one(queue)
        queue.fail("w1", job, "E", "boom", None)

        assert queue.blob_in_use("b1", excluding="someone-else") is True


class WakeUpTest(QueueFixtures):
    """on_wake_up, wake_up, the remover and close; a wake-up may arrive on another thread."""

    def test_enqueue_wakes_up_listeners(self, queue: JobQueue) -> None:
        woken = threading.Event()
        queue.on_wake_up(woken.set)

        queue.enqueue(KIND, {})

        assert woken.wait(WAKE_UP_WAIT_S)

    def test_wake_up_calls_every_listener(self, queue: JobQueue) -> None:
        first, second = threading.Event(), threading.Event()
        queue.on_wake_up(first.set)
        queue.on_wake_up(second.set)

        queue.wake_up()

        assert first.wait(WAKE_UP_WAIT_S) and second.wait(WAKE_UP_WAIT_S)

    def test_wake_up_from_another_thread_reaches_listeners(self, queue: JobQueue) -> None:
        woken = threading.Event()
        queue.on_wake_up(woken.set)

        thread = threading.Thread(target=queue.wake_up)
        thread.start()
        thread.join()

        assert woken.wait(WAKE_UP_WAIT_S)

    def test_removed_listener_is_not_called(self, queue: JobQueue) -> None:
        kept, removed = threading.Event(), threading.Event()
        queue.on_wake_up(kept.set)
        stop = queue.on_wake_up(removed.set)

        stop()
        queue.wake_up()

        assert kept.wait(WAKE_UP_WAIT_S)
        assert not removed.wait(QUIET_WAIT_S)

    def test_removing_a_listener_twice_is_harmless(self, queue: JobQueue) -> None:
        woken = threading.Event()
        stop = queue.on_wake_up(lambda: None)
        queue.on_wake_up(woken.set)

        stop()
        stop()
        queue.wake_up()

        assert woken.wait(WAKE_UP_WAIT_S)

    def test_close_stops_wake_ups(self, queue: JobQueue) -> None:
        woken = threading.Event()
        queue.on_wake_up(woken.set)

        queue.close()
        queue.wake_up()

        assert not woken.wait(QUIET_WAIT_S)


Outcome = tuple[list[str], list[str], str | None]  # ids leased, ids completed, error or None


def lease_until_empty(opener: QueueOpener, owner: str, start: Any, report: Any, batch: int) -> None:
    """A worker process: lease and complete jobs of ``KIND`` until none is left, then put
    (owner, ids leased, ids completed, error or None) on ``report``."""
    leased: list[str] = []
    completed: list[str] = []
    error: str | None = None
    try:
        with opener() as queue:
            start.wait(60)  # both processes start leasing together
            while jobs := queue.lease(owner, [KIND], batch, 60):
                ids = [job.id for job in jobs]
                leased += ids
                time.sleep(0.001)  # the work, during which the other process leases
                completed += queue.complete_many(owner, {job_id: {"owner": owner} for job_id in ids})
    except Exception as exc:  # reported to the test, which fails with it
        error = repr(exc)
    report.put((owner, leased, completed, error))


def run_workers(
    opener: QueueOpener, owners: list[str], batch: int, timeout_s: float = 120
) -> dict[str, Outcome]:
    """Run ``lease_until_empty`` in one spawned process per owner, all at once; their outcomes by owner."""
    context = multiprocessing.get_context("spawn")
    start, report = context.Barrier(len(owners)), context.Queue()
    workers = [
        context.Process(target=lease_until_empty, args=(opener, owner, start, report, batch))
        for owner in owners
    ]
    for worker in workers:
        worker.start()
    outcomes: dict[str, Outcome] = {}
    deadline = time.monotonic() + timeout_s
    try:
        while len(outcomes) < len(owners):
            try:
                owner, leased, completed, error = report.get(timeout=1)
            except Empty:
                if time.monotonic() > deadline or not any(w.is_alive() for w in workers):
                    codes = [w.exitcode for w in workers]
                    raise AssertionError(f"worker processes did not report (exit codes {codes})") from None
                continue
            outcomes[owner] = (leased, completed, error)
    finally:
        for worker in workers:
            worker.join(10)
            if worker.is_alive():
                worker.terminate()
                worker.join()
        report.close()
    return outcomes


class ConcurrentLeaseTest(QueueFixtures):
    """Two worker processes lease from one queue at the same time; needs the ``open_queue`` fixture."""

    JOBS = 400
    BATCH = 5

    @pytest.fixture
    def open_queue(self) -> QueueOpener:
        """A picklable callable returning a context manager that yields a started queue over the same jobs."""
        raise NotImplementedError("the adapter's test class provides open_queue")

    def test_two_processes_complete_every_job_exactly_once(
        self, queue: JobQueue, admin: JobAdmin, open_queue: QueueOpener
    ) -> None:
        ids = {queue.enqueue(KIND, {"n": i}) for i in range(self.JOBS)}
        owners = ["proc-a", "proc-b"]

        outcomes = run_workers(open_queue, owners, self.BATCH)

        leased = [job_id for owner in owners for job_id in outcomes[owner][0]]
        duplicates = len(leased) - len(set(leased))
        done = ", ".join(f"{o} leased {len(outcomes[o][0])}, completed {len(outcomes[o][1])}" for o in owners)
        print(f"\n{self.JOBS} jobs, two processes: {done}; leased by two owners or twice: {duplicates}")
        errors = [outcomes[o][2] for o in owners]
        assert errors == [None, None], errors  # (this module's asserts are not rewritten by pytest)
        assert duplicates == 0, duplicates  # no job was ever held by two owners, nor twice by one
        assert set(leased) == ids
        assert all(sorted(outcomes[o][1]) == sorted(outcomes[o][0]) for o in owners)
        assert admin.counts() == {(KIND, JobStatus.SUCCEEDED): self.JOBS}
        jobs = admin.list(kind=KIND, limit=self.JOBS + 1)
        completed_by = {job_id: owner for owner in owners for job_id in outcomes[owner][1]}
        assert {job.attempts for job in jobs} == {1}
        assert all(job.result == {"owner": completed_by[job.id]} for job in jobs)


class JobQueueContract(
    EnqueueTest,
    LeaseTest,
    HeartbeatTest,
    ProgressTest,
    CompleteTest,
    FailTest,
    ReleaseTest,
    BlobInUseTest,
    WakeUpTest,
    ConcurrentLeaseTest,
):
    """Every JobQueue capability (jobs are read back through ``admin``)."""


class JobAdminContract(RetryTest, CancelTest, ListJobsTest, CountsTest):
    """Every JobAdmin capability."""
