"""Worker: runs handlers on leased jobs, retries with backoff, dead-letters, survives handler crashes."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
import pytest

from ragworks.config import JobSettings
from ragworks.domain import Job, JobKind, JobResults, JobStatus
from ragworks.engines.queue.sql import SqlJobQueue
from ragworks.errors import BadRequest, DiskFull
from ragworks.jobs.worker import Handler, JobContext, Lane, Worker
from ragworks.observability.metrics import Metrics

pytestmark = pytest.mark.anyio

KIND = "test.work"
FAST = JobSettings(poll_interval_s=0.05, backoff_base_s=0.01, backoff_max_s=0.02, heartbeat_s=0.05, lease_s=5)
Finished = list[tuple[str, JobStatus, Exception | None]]


@asynccontextmanager
async def running(
    queue: SqlJobQueue,
    handler: Handler,
    *,
    batch: int = 1,
    settings: JobSettings = FAST,
    metrics: Metrics | None = None,
    finished: Finished | None = None,
    reclaim_all: bool = False,
) -> AsyncIterator[Worker]:
    """A started worker with one lane for KIND, stopped on exit."""

    async def on_finished(job: Job, status: JobStatus, error: Exception | None) -> None:
        if finished is not None:
            finished.append((job.id, status, error))

    worker = Worker(
        queue,
        queue,
        {KIND: handler},
        [Lane("test", (KIND,), batch)],
        settings,
        metrics or Metrics(),
        on_finished,
    )
    await worker.start(reclaim_all=reclaim_all)
    try:
        yield worker
    finally:
        await worker.stop()


async def until(condition: Callable[[], bool], timeout_s: float = 3.0) -> None:
    """Wait until ``condition()`` holds; fails the test after ``timeout_s``."""
    with anyio.fail_after(timeout_s):
        while True:
            if condition():
                return
            await anyio.sleep(0.01)


async def finished_job(queue: SqlJobQueue, job_id: str, timeout_s: float = 3.0) -> Job:
    """The job once it has succeeded, died or been cancelled."""
    await until(lambda: queue.get(job_id).status.finished, timeout_s)
    return queue.get(job_id)


def handler_of(outcome: Callable[[Job], dict[str, object] | Exception]) -> Handler:
    """A handler that maps each job of the batch through ``outcome``."""

    async def handle(jobs: list[Job], _ctx: JobContext) -> JobResults:
        return {job.id: outcome(job) for job in jobs}

    return handle


async def test_succeeding_handler_stores_its_result(queue: SqlJobQueue) -> None:
    job_id = queue.enqueue(KIND, {"n": 2})

    async with running(queue, handler_of(lambda job: {"double": job.payload["n"] * 2})):
        job = await finished_job(queue, job_id)

    assert (job.status, job.result, job.attempts) == (JobStatus.SUCCEEDED, {"double": 4}, 1)


async def test_failing_handler_is_retried_until_dead(queue: SqlJobQueue) -> None:
    job_id = queue.enqueue(KIND, {}, max_attempts=3)

    async with running(queue, handler_of(lambda _job: ValueError("boom"))):
        job = await finished_job(queue, job_id)

    assert (job.status, job.attempts) == (JobStatus.DEAD, 3)
    assert (job.error_type, job.error_message) == ("ValueError", "boom")
    assert [h["attempt"] for h in job.history] == [1, 2, 3]


async def test_an_outage_outlasting_max_attempts_does_not_kill_the_job(queue: SqlJobQueue) -> None:
    job_id = queue.enqueue(KIND, {}, max_attempts=2)
    calls = 0

    def full_five_times(_job: Job) -> dict[str, object] | Exception:
        nonlocal calls
        calls += 1
        return DiskFull("the data disk is full") if calls <= 5 else {"stored": True}

    async with running(queue, handler_of(full_five_times)):
        job = await finished_job(queue, job_id)

    assert (job.status, job.attempts, calls) == (JobStatus.SUCCEEDED, 1, 6)
    assert [h.get("outage") for h in job.history] == [True] * 5


async def test_a_service_call_spends_its_attempts_on_an_outage(queue: SqlJobQueue) -> None:
    job_id = queue.enqueue(JobKind.SERVICE_RUN.value, {}, max_attempts=2)
    lane = Lane("services", (JobKind.SERVICE_RUN.value,), 1)
    worker = Worker(
        queue,
        queue,
        {JobKind.SERVICE_RUN.value: handler_of(lambda _job: DiskFull("full"))},
        [lane],
        FAST,
        Metrics(),
    )
    await worker.start(reclaim_all=False)
    try:
        job = await finished_job(queue, job_id)
    finally:
        await worker.stop()

    assert (job.status, job.attempts) == (JobStatus.DEAD, 2)  # its caller gets the error, not a wait


async def test_outage_retries_back_off_up_to_their_own_ceiling(queue: SqlJobQueue) -> None:
    settings = FAST.model_copy(
        update={"backoff_base_s": 0.04, "backoff_max_s": 60, "outage_retry_max_s": 0.08}
    )
    job_id = queue.enqueue(KIND, {}, max_attempts=1)
    calls = 0

    def full_four_times(_job: Job) -> dict[str, object] | Exception:
        nonlocal calls
        calls += 1
        return DiskFull("full") if calls <= 4 else {}

    async with running(queue, handler_of(full_four_times), settings=settings):
        job = await finished_job(queue, job_id)

    gaps = [later["at"] - earlier["at"] for earlier, later in zip(job.history, job.history[1:], strict=False)]
    assert job.status == JobStatus.SUCCEEDED
    assert all(0.02 <= gap < 1.0 for gap in gaps), gaps  # base 0.04 doubling, capped at 0.08, not 60


async def test_retry_waits_for_the_backoff(queue: SqlJobQueue) -> None:
    slower_backoff = FAST.model_copy(update={"backoff_base_s": 0.1, "backoff_max_s": 0.1})
    job_id = queue.enqueue(KIND, {}, max_attempts=2)

    async with running(queue, handler_of(lambda _job: ValueError("boom")), settings=slower_backoff):
        job = await finished_job(queue, job_id)

    first, second = job.history
    assert second["at"] - first["at"] >= 0.05


async def test_raising_handler_fails_its_jobs(queue: SqlJobQueue) -> None:
    job_id = queue.enqueue(KIND, {}, max_attempts=2)

    async def crash(_jobs: list[Job], _ctx: JobContext) -> JobResults:
        raise RuntimeError("handler crashed")

    async with running(queue, crash):
        job = await finished_job(queue, job_id)

    assert (job.status, job.attempts, job.error_message) == (JobStatus.DEAD, 2, "handler crashed")


async def test_client_error_is_dead_after_one_attempt(queue: SqlJobQueue) -> None:
    job_id = queue.enqueue(KIND, {}, max_attempts=4)

    async with running(queue, handler_of(lambda _job: BadRequest("bad input"))):
        job = await finished_job(queue, job_id)

    assert (job.status, job.attempts) == (JobStatus.DEAD, 1)
    assert (job.error_type, job.error_message) == ("bad_request", "bad input")


async def test_error_without_message_is_named_by_its_type(queue: SqlJobQueue) -> None:
    job_id = queue.enqueue(KIND, {}, max_attempts=1)

    async with running(queue, handler_of(lambda _job: KeyError())):
        job = await finished_job(queue, job_id)

    assert job.error_message == "KeyError"


async def test_job_left_out_of_the_results_fails(queue: SqlJobQueue) -> None:
    job_id = queue.enqueue(KIND, {}, max_attempts=1)

    async def forgetful(_jobs: list[Job], _ctx: JobContext) -> JobResults:
        return {}

    async with running(queue, forgetful):
        job = await finished_job(queue, job_id)

    assert (job.status, job.error_message) == (JobStatus.DEAD, "the handler returned no result")


async def test_empty_result_counts_as_success(queue: SqlJobQueue) -> None:
    job_id = queue.enqueue(KIND, {}, max_attempts=1)

    async with running(queue, handler_of(lambda _job: {})):
        job = await finished_job(queue, job_id)

    assert (job.status, job.result) == (JobStatus.SUCCEEDED, {})


async def test_crash_of_a_whole_batch_fails_each_job_and_the_lane_goes_on(queue: SqlJobQueue) -> None:
    crashing = [queue.enqueue(KIND, {"crash": True}, max_attempts=1) for _ in range(3)]
    seen_batches: list[int] = []

    async def handle(jobs: list[Job], _ctx: JobContext) -> JobResults:
        seen_batches.append(len(jobs))
        if any(job.payload.get("crash") for job in jobs):
            raise RuntimeError("batch crashed")
        return {job.id: {"ok": True} for job in jobs}

    async with running(queue, handle, batch=5):
        dead = [await finished_job(queue, job_id) for job_id in crashing]
        later = await finished_job(queue, queue.enqueue(KIND, {}))

    assert seen_batches[0] == 3
    assert [(j.status, j.error_message) for j in dead] == [(JobStatus.DEAD, "batch crashed")] * 3
    assert later.status == JobStatus.SUCCEEDED


async def test_batch_holds_up_to_the_lane_size(queue: SqlJobQueue) -> None:
    ids = [queue.enqueue(KIND, {}) for _ in range(5)]
    sizes: list[int] = []

    async def handle(jobs: list[Job], _ctx: JobContext) -> JobResults:
        sizes.append(len(jobs))
        return {job.id: {"ok": True} for job in jobs}

    async with running(queue, handle, batch=2):
        for job_id in ids:
            await finished_job(queue, job_id)

    assert sizes == [2, 2, 1]


async def test_notify_wakes_an_idle_lane(queue: SqlJobQueue) -> None:
    slow_poll = FAST.model_copy(update={"poll_interval_s": 30.0})

    async with running(queue, handler_of(lambda _job: {"ok": True}), settings=slow_poll) as worker:
        await anyio.sleep(0.1)  # the lane found nothing and waits
        job_id = queue.enqueue(KIND, {})
        worker.notify()
        job = await finished_job(queue, job_id, timeout_s=2.0)

    assert job.status == JobStatus.SUCCEEDED


async def test_finished_hook_gets_each_attempt_status(queue: SqlJobQueue) -> None:
    good = queue.enqueue(KIND, {"fail": False})
    bad = queue.enqueue(KIND, {"fail": True}, max_attempts=2)
    finished: Finished = []

    def outcome(job: Job) -> dict[str, object] | Exception:
        return ValueError("nope") if job.payload["fail"] else {"ok": True}

    async with running(queue, handler_of(outcome), finished=finished):
        await finished_job(queue, good)
        await finished_job(queue, bad)

    assert [(status, error) for job_id, status, error in finished if job_id == good] == [
        (JobStatus.SUCCEEDED, None)
    ]
    statuses = [status for job_id, status, _ in finished if job_id == bad]
    assert statuses == [JobStatus.FAILED, JobStatus.DEAD]
    assert all(isinstance(error, ValueError) for job_id, _, error in finished if job_id == bad)


async def test_failing_finished_hook_does_not_stop_the_lane(queue: SqlJobQueue) -> None:
    async def broken_hook(_job: Job, _status: JobStatus, _error: Exception | None) -> None:
        raise RuntimeError("hook broke")

    worker = Worker(
        queue,
        queue,
        {KIND: handler_of(lambda _job: {"ok": True})},
        [Lane("test", (KIND,))],
        FAST,
        Metrics(),
        broken_hook,
    )
    await worker.start(reclaim_all=False)
    try:
        first = await finished_job(queue, queue.enqueue(KIND, {}))
        second = await finished_job(queue, queue.enqueue(KIND, {}))
    finally:
        await worker.stop()

    assert (first.status, second.status) == (JobStatus.SUCCEEDED, JobStatus.SUCCEEDED)


async def test_attempts_are_counted_in_metrics(queue: SqlJobQueue) -> None:
    metrics = Metrics()
    job_id = queue.enqueue(KIND, {}, max_attempts=2)

    async with running(queue, handler_of(lambda _job: ValueError("x")), metrics=metrics):
        await finished_job(queue, job_id)

    def attempts(status: str) -> float | None:
        return metrics.registry.get_sample_value("job_attempts_total", {"kind": KIND, "status": status})

    assert (attempts("failed"), attempts("dead")) == (1.0, 1.0)


async def test_handler_progress_is_visible_while_it_runs(queue: SqlJobQueue) -> None:
    job_id = queue.enqueue(KIND, {})

    async def handle(jobs: list[Job], ctx: JobContext) -> JobResults:
        await ctx.progress([j.id for j in jobs], 0.5, "embed")
        stage = queue.get(jobs[0].id).stage
        return {job.id: {"stage_seen": stage} for job in jobs}

    async with running(queue, handle):
        job = await finished_job(queue, job_id)

    assert job.result == {"stage_seen": "embed"}


async def test_heartbeat_keeps_a_long_job_leased(queue: SqlJobQueue) -> None:
    short_lease = FAST.model_copy(update={"lease_s": 0.15})
    job_id = queue.enqueue(KIND, {})
    stolen: list[Job] = []

    async def slow(jobs: list[Job], _ctx: JobContext) -> JobResults:
        await anyio.sleep(0.4)
        stolen.extend(queue.lease("intruder", [KIND], 1, 60))
        return {job.id: {"ok": True} for job in jobs}

    async with running(queue, slow, settings=short_lease):
        job = await finished_job(queue, job_id)

    assert (stolen, job.status) == ([], JobStatus.SUCCEEDED)


async def test_reclaim_all_finishes_jobs_left_running_by_a_previous_process(queue: SqlJobQueue) -> None:
    job_id = queue.enqueue(KIND, {})
    queue.lease("old-host-1-abcd", [KIND], 1, 600)

    async with running(queue, handler_of(lambda _job: {"ok": True}), reclaim_all=True):
        job = await finished_job(queue, job_id)

    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 2)


async def test_without_reclaim_a_held_lease_is_left_alone(queue: SqlJobQueue) -> None:
    job_id = queue.enqueue(KIND, {})
    queue.lease("old-host-1-abcd", [KIND], 1, 600)

    async with running(queue, handler_of(lambda _job: {"ok": True})):
        await anyio.sleep(0.2)

    job = queue.get(job_id)
    assert (job.status, job.lease_owner) == (JobStatus.RUNNING, "old-host-1-abcd")


async def test_job_cancelled_while_running_is_reported_cancelled(queue: SqlJobQueue) -> None:
    job_id = queue.enqueue(KIND, {})
    finished: Finished = []

    async def cancelled_midway(jobs: list[Job], _ctx: JobContext) -> JobResults:
        queue.cancel(jobs[0].id)
        return {job.id: {"ok": True} for job in jobs}

    async with running(queue, cancelled_midway, finished=finished):
        job = await finished_job(queue, job_id)
        await until(lambda: bool(finished))

    assert (job.status, job.result) == (JobStatus.CANCELLED, None)
    assert finished[0][1] == JobStatus.CANCELLED


async def test_job_cancelled_while_running_that_then_fails_is_reported_cancelled(queue: SqlJobQueue) -> None:
    job_id = queue.enqueue(KIND, {}, max_attempts=1)
    finished: Finished = []

    async def cancelled_then_fails(jobs: list[Job], _ctx: JobContext) -> JobResults:
        queue.cancel(jobs[0].id)
        return {job.id: ValueError("too late") for job in jobs}

    async with running(queue, cancelled_then_fails, finished=finished):
        await finished_job(queue, job_id)
        await until(lambda: bool(finished))

    assert finished[0][1] == JobStatus.CANCELLED


async def test_stop_leaves_no_lane_running(queue: SqlJobQueue) -> None:
    async with running(queue, handler_of(lambda _job: {"ok": True})) as worker:
        await anyio.sleep(0.05)
    job_id = queue.enqueue(KIND, {})
    worker.notify()
    await anyio.sleep(0.15)

    assert queue.get(job_id).status == JobStatus.QUEUED


async def test_batch_with_a_cancelled_job_completes_the_others(queue: SqlJobQueue) -> None:
    job_ids = [queue.enqueue(KIND, {"n": n}, max_attempts=1) for n in range(4)]
    finished: Finished = []

    async def mixed(jobs: list[Job], _ctx: JobContext) -> JobResults:
        queue.cancel(jobs[1].id)
        results: JobResults = {job.id: {"n": job.payload["n"]} for job in jobs}
        results[jobs[2].id] = ValueError("bad")
        return results

    async with running(queue, mixed, batch=4, finished=finished):
        await until(lambda: len(finished) == 4)

    statuses = {job_id: status for job_id, status, _ in finished}
    assert [statuses[i] for i in job_ids] == [
        JobStatus.SUCCEEDED,
        JobStatus.CANCELLED,
        JobStatus.DEAD,
        JobStatus.SUCCEEDED,
    ]
    assert [queue.get(i).result for i in job_ids] == [{"n": 0}, None, None, {"n": 3}]


async def test_jobs_a_handler_finishes_early_complete_before_the_batch(queue: SqlJobQueue) -> None:
    first, second = queue.enqueue(KIND, {"n": 1}), queue.enqueue(KIND, {"n": 2})
    release = threading.Event()
    finished: Finished = []

    def work(jobs: list[Job], ctx: JobContext) -> JobResults:  # in a worker thread, as the pipeline
        ctx.finished_sync({first: {"n": 1}, "not-held": {"n": 0}})
        assert release.wait(5)
        return {job.id: {"n": job.payload["n"]} for job in jobs}  # the first again: ignored

    async def handle(jobs: list[Job], ctx: JobContext) -> JobResults:
        return await anyio.to_thread.run_sync(work, jobs, ctx)

    async with running(queue, handle, batch=2, finished=finished):
        early = await finished_job(queue, first)
        assert queue.get(second).status == JobStatus.RUNNING  # its handler is still at work
        release.set()
        late = await finished_job(queue, second)

    assert (early.status, early.result, late.status, late.result) == (
        JobStatus.SUCCEEDED,
        {"n": 1},
        JobStatus.SUCCEEDED,
        {"n": 2},
    )
    assert finished == [(first, JobStatus.SUCCEEDED, None), (second, JobStatus.SUCCEEDED, None)]
