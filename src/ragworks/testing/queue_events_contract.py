"""JobQueue contract mixins around the cycle: release, blobs in use, wake-ups."""

from __future__ import annotations

import threading

from ragworks.engines.queue.base import JobAdmin, JobQueue
from ragworks.testing.queue_fixtures import (
    KIND,
    QUIET_WAIT_S,
    WAKE_UP_WAIT_S,
    QueueFixtures,
    lease_one,
)


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

    def test_blob_not_in_use_by_a_succeeded_job(self, queue: JobQueue) -> None:
        done = queue.enqueue(KIND, {"blob": "b1"})
        job = lease_one(queue)
        queue.complete("w1", job.id, {})

        assert queue.blob_in_use("b1", excluding="someone-else") is False
        assert job.id == done

    def test_blob_in_use_by_a_cancelled_job_that_may_be_replayed(
        self, queue: JobQueue, admin: JobAdmin
    ) -> None:
        cancelled = queue.enqueue(KIND, {"blob": "b1"})
        admin.cancel(cancelled)

        assert queue.blob_in_use("b1", excluding="someone-else") is True

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

    def test_retry_wakes_up_listeners(self, queue: JobQueue, admin: JobAdmin) -> None:
        job_id = queue.enqueue(KIND, {})
        admin.cancel(job_id)
        woken = threading.Event()
        queue.on_wake_up(woken.set)

        admin.retry(job_id)

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
