"""In-process job workers: lease batches, run handlers, heartbeat leases, retry or dead-letter."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio

from ragworks.config import JobSettings
from ragworks.domain import Job, JobResults, JobStatus
from ragworks.engines.queue.base import JobAdmin, JobQueue
from ragworks.engines.store.workers import WorkerRegistry
from ragworks.errors import RagworksError
from ragworks.jobs.retry import backoff_delay, is_outage, is_permanent, outage_streak, rides_out_outages
from ragworks.observability.metrics import Metrics

log = logging.getLogger(__name__)

Handler = Callable[[list[Job], "JobContext"], Awaitable[JobResults]]
FinishedHook = Callable[[Job, JobStatus, Exception | None], Awaitable[None]]
UNKNOWN_FAILURE_STATUS = 500  # the status code recorded for an error that is not a RagworksError


@dataclass(frozen=True, slots=True)
class Chore:
    """Work the worker repeats every ``every_s`` seconds while it runs (a purge of old rows, ...)."""

    name: str
    every_s: float
    run: Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Lane:
    """A loop that leases up to ``batch`` jobs of ``kinds`` at a time."""

    name: str
    kinds: tuple[str, ...]
    batch: int = 1


@dataclass(slots=True)
class JobContext:
    """What a handler may use while it runs: progress reporting for the jobs it holds, and recording
    the outcomes of jobs whose work is done before the rest of the batch."""

    queue: JobQueue
    owner: str
    on_finished_early: Callable[[JobResults], None] | None = None

    async def progress(self, job_ids: Sequence[str], value: float, stage: str) -> None:
        """Record progress of held jobs."""
        await anyio.to_thread.run_sync(self.queue.progress, self.owner, list(job_ids), value, stage)

    def progress_sync(self, job_ids: Sequence[str], value: float, stage: str) -> None:
        """Record progress from a worker thread."""
        self.queue.progress(self.owner, list(job_ids), value, stage)

    def finished_sync(self, results: JobResults) -> None:
        """From a worker thread: these jobs are done, record their outcomes now (without waiting for
        it). Outcomes the handler returns again for them at the end are ignored."""
        if self.on_finished_early is not None:
            self.on_finished_early(results)


class Worker:
    """Runs jobs inside the server process. Leases make every accepted job finish even after a crash."""

    def __init__(
        self,
        queue: JobQueue,
        admin: JobAdmin,
        handlers: dict[str, Handler],
        lanes: Sequence[Lane],
        settings: JobSettings,
        metrics: Metrics,
        on_finished: FinishedHook | None = None,
        chores: Sequence[Chore] = (),
        on_stop: Sequence[Callable[[], Awaitable[None]]] = (),
        registry: WorkerRegistry | None = None,
        role: str = "worker",
    ) -> None:
        self.queue = queue
        self.admin = admin
        self.handlers = handlers
        self.lanes = lanes
        self.settings = settings
        self.metrics = metrics
        self.on_finished = on_finished
        self.chores = chores
        self.on_stop = on_stop  # called once lanes have stopped (handlers closing their clients)
        # at most 50 characters: the store keeps 64 (hostnames may have up to 253)
        self.owner = f"{socket.gethostname()[:32]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._wake = {lane.name: asyncio.Event() for lane in lanes}
        self._tasks: list[asyncio.Task[None]] = []
        self._finishing: set[asyncio.Future[None]] = set()
        self._stop_wake_ups: Callable[[], None] | None = None
        # the dashboard's view of this process: its row in ``registry``, refreshed every heartbeat_s
        self.registry = registry
        self.role = role
        self._running: dict[str, dict[str, Any]] = {}  # job id -> {job_id, kind, lane, since}

    async def start(self, *, reclaim_all: bool) -> None:
        """Start the lanes; with ``reclaim_all`` (one process owns the data dir) jobs left running by a
        previous process are taken back at once instead of after their lease expires."""
        if reclaim_all:
            released = await anyio.to_thread.run_sync(self.queue.release, "")
            if released:
                log.info("re-queued jobs left running by a previous process", extra={"jobs": released})
        loop = asyncio.get_running_loop()

        def wake_up() -> None:  # the queue calls it from any thread
            with contextlib.suppress(RuntimeError):  # the loop has closed
                loop.call_soon_threadsafe(self.notify)

        self._stop_wake_ups = self.queue.on_wake_up(wake_up)
        if self.registry is not None:
            await self._announce()
            self._tasks.append(asyncio.create_task(self._beat(self.registry), name="workers-heartbeat"))
        self._tasks += [asyncio.create_task(self._run_lane(lane), name=lane.name) for lane in self.lanes]
        self._tasks += [asyncio.create_task(self._repeat(chore), name=chore.name) for chore in self.chores]

    async def stop(self) -> None:
        """Stop leasing; jobs in flight keep their lease and are resumed by the next start."""
        if self._stop_wake_ups is not None:
            self._stop_wake_ups()
            self._stop_wake_ups = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await asyncio.gather(*self._finishing)  # outcomes already decided are recorded in full
        if self.registry is not None:
            with contextlib.suppress(Exception):  # a store already gone: the row just stops being seen
                await anyio.to_thread.run_sync(self.registry.stopped, self.owner)
        for close in self.on_stop:
            try:
                await close()
            except Exception:
                log.exception("closing a job handler failed")

    def notify(self) -> None:
        """Wake idle lanes: new jobs were enqueued."""
        for event in self._wake.values():
            event.set()

    async def _run_lane(self, lane: Lane) -> None:
        wake = self._wake[lane.name]
        while True:
            try:
                jobs = await anyio.to_thread.run_sync(
                    self.queue.lease, self.owner, lane.kinds, lane.batch, self.settings.lease_s
                )
            except Exception:
                log.exception("leasing jobs failed; retrying")
                jobs = []
            if not jobs:
                wake.clear()
                # not asyncio.wait_for: on Python 3.11 it swallows a cancel that comes with a wake-up,
                # and stop() would then wait for this lane forever
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.settings.poll_interval_s):
                        await wake.wait()
                continue
            since = time.time()
            self._running.update(
                (j.id, {"job_id": j.id, "kind": j.kind, "lane": lane.name, "since": since}) for j in jobs
            )
            try:
                await self._run_batch(jobs)
            except Exception:
                # The store failed while the outcomes were recorded (PostgreSQL restarting, a full
                # disk). The lane must outlive it: these jobs keep their lease until it expires and
                # then run again (handlers are idempotent), and the lane leases again once it can.
                log.exception("recording job outcomes failed; they run again when their leases expire")
            finally:
                for job in jobs:
                    self._running.pop(job.id, None)

    async def _announce(self) -> None:
        """Write this process's row in the registry (a failure is logged: jobs run without it)."""
        assert self.registry is not None
        lanes = [lane.name for lane in self.lanes]
        host, pid = socket.gethostname(), os.getpid()
        try:
            await anyio.to_thread.run_sync(self.registry.register, self.owner, host, pid, self.role, lanes)
        except Exception:
            log.exception("registering the worker failed; its heartbeats will be retried")

    async def _beat(self, registry: WorkerRegistry) -> None:
        """Every ``heartbeat_s``: one UPDATE with the time and the jobs running now, idle or not."""
        while True:
            await asyncio.sleep(self.settings.heartbeat_s)
            try:
                await anyio.to_thread.run_sync(registry.beat, self.owner, list(self._running.values()))
            except Exception:
                log.warning("worker heartbeat failed; the next one retries", exc_info=True)

    async def _repeat(self, chore: Chore) -> None:
        while True:
            try:
                await chore.run()
            except Exception:
                log.exception("a worker chore failed; it runs again later", extra={"chore": chore.name})
            await asyncio.sleep(chore.every_s)

    async def _run_batch(self, jobs: list[Job]) -> None:
        by_kind: dict[str, list[Job]] = {}
        for job in jobs:
            by_kind.setdefault(job.kind, []).append(job)
        heartbeat = asyncio.create_task(self._heartbeat([j.id for j in jobs]))
        try:
            for kind, group in by_kind.items():
                early: dict[str, asyncio.Future[None]] = {}  # jobs the handler finished before returning
                handler = self.handlers.get(kind)
                results: JobResults
                if handler is None:
                    results = {j.id: LookupError(f"no handler for job kind '{kind}'") for j in group}
                else:
                    context = JobContext(self.queue, self.owner, self._early_recorder(group, early))
                    try:
                        results = await handler(group, context)
                    except Exception as exc:  # a handler crash fails its jobs, never the lane
                        log.exception("job handler failed", extra={"kind": kind})
                        results = {j.id: exc for j in group}
                rest = [j for j in group if j.id not in early]
                # Recording outcomes must not be cut short by stop(): a job marked dead whose
                # document, metrics and hooks were never told would stay inconsistent.
                finishing = self._record(rest, results)
                await asyncio.shield(asyncio.gather(finishing, *set(early.values())))
        finally:
            heartbeat.cancel()

    def _early_recorder(
        self, group: list[Job], early: dict[str, asyncio.Future[None]]
    ) -> Callable[[JobResults], None]:
        """``JobContext.on_finished_early`` for a handler of ``group``: called from a worker thread,
        it starts recording on the event loop and returns at once."""
        by_id = {job.id: job for job in group}

        def start_recording(results: JobResults) -> None:
            jobs = [by_id[i] for i in results if i in by_id and i not in early]
            if jobs:
                recording = self._record(jobs, results)
                early.update((job.id, recording) for job in jobs)

        return lambda results: anyio.from_thread.run_sync(start_recording, results)

    def _record(self, jobs: list[Job], results: JobResults) -> asyncio.Future[None]:
        """``_finish_all`` as a task that ``stop()`` waits for."""
        finishing = asyncio.ensure_future(self._finish_all(jobs, results))
        self._finishing.add(finishing)
        finishing.add_done_callback(self._finishing.discard)
        return finishing

    async def _finish_all(self, group: list[Job], results: JobResults) -> None:
        outcomes = {j.id: results.get(j.id, RuntimeError("the handler returned no result")) for j in group}
        succeeded = {i: o for i, o in outcomes.items() if not isinstance(o, Exception)}
        held: set[str] = set()
        if succeeded:  # one transaction for the batch; failures take the per-job path below
            held = await anyio.to_thread.run_sync(self.queue.complete_many, self.owner, succeeded)
        for job in group:
            await self._finish(job, outcomes[job.id], held)

    async def _heartbeat(self, job_ids: list[str]) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_s)
            with contextlib.suppress(Exception):
                await anyio.to_thread.run_sync(
                    self.queue.heartbeat, self.owner, job_ids, self.settings.lease_s
                )

    async def _finish(self, job: Job, outcome: dict[str, object] | Exception, completed: set[str]) -> None:
        """Record one job's outcome (successes are already in ``completed`` unless their lease was
        lost), then its metrics and hook."""
        error = outcome if isinstance(outcome, Exception) else None
        if error is None:
            # a lost lease means the job was cancelled or taken over: report what is stored
            status = (
                JobStatus.SUCCEEDED
                if job.id in completed
                else (await anyio.to_thread.run_sync(self.admin.get, job.id)).status
            )
        else:
            retry_at = None
            outage = is_outage(error) and rides_out_outages(job.kind)
            if outage:  # never dead for it: the attempt is given back and the job waits the outage out
                streak = outage_streak(job.history) + 1
                ceiling = min(self.settings.backoff_max_s, self.settings.outage_retry_max_s)
                retry_at = time.time() + backoff_delay(streak, self.settings.backoff_base_s, ceiling)
            elif not is_permanent(error) and job.attempts < job.max_attempts:
                delay = backoff_delay(job.attempts, self.settings.backoff_base_s, self.settings.backoff_max_s)
                retry_at = time.time() + delay
            message = str(error) or type(error).__name__
            code = getattr(error, "code", type(error).__name__)
            # the HTTP-style status a dead job's events and stream replies report (502 for LLMError, ...)
            status_code = error.status_code if isinstance(error, RagworksError) else UNKNOWN_FAILURE_STATUS
            status = await anyio.to_thread.run_sync(
                lambda: self.queue.fail(
                    self.owner,
                    job,
                    code,
                    message,
                    retry_at,
                    status_code=status_code,
                    error_class=type(error).__name__,
                    outage=outage,
                )
            )
            log.warning(
                "job attempt failed",
                extra={"job_id": job.id, "kind": job.kind, "attempt": job.attempts, "status": str(status)},
            )
        self.metrics.observe_job(job.kind, str(status))
        if self.on_finished is not None:
            try:
                await self.on_finished(job, status, error)
            except Exception:
                log.exception("job finish hook failed", extra={"job_id": job.id})
