"""JobQueue contract mixin: worker processes leasing from one queue at the same time."""

from __future__ import annotations

import multiprocessing
import time
from queue import Empty
from typing import Any

import pytest

from ragworks.domain import JobStatus
from ragworks.engines.queue.base import JobAdmin, JobQueue
from ragworks.testing.queue_fixtures import (
    KIND,
    QueueFixtures,
    QueueOpener,
)

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
