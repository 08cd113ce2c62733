"""The JobQueue and JobAdmin ports: durable jobs with leases, retries and a dead-letter state.

A job is leased by an owner (a worker) until its lease expires; the owner heartbeats to keep it and
completes or fails it. A job whose lease expired (its worker died) is leased again by any worker.
Every method is synchronous and may block: callers run them off the event loop. Transient overload of
the engine is raised as ``errors.Busy``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from ragworks.domain import Job, JobStatus, TenantView
from ragworks.engines.queue.outbox import Event

WakeUp = Callable[[], None]


class JobQueue(Protocol):
    """The worker's side: enqueue, lease, heartbeat, progress, complete, fail, and wake-ups."""

    def enqueue(self, kind: str, payload: dict[str, Any], **fields: Any) -> str:
        """Insert a queued job in its own transaction and announce it; returns its id.

        ``fields``: ``collection``, ``document_id``, ``max_attempts``, ``callback_url``, and ``job_id``
        (at most 32 characters) to choose the id instead of a fresh one.

        Raises:
            Conflict: a job with that ``job_id`` exists.
        """

    def lease(self, owner: str, kinds: Sequence[str], limit: int, lease_s: float) -> list[Job]:
        """Claim up to ``limit`` due jobs of ``kinds`` (queued, failed and due for retry, or running
        with an expired lease), oldest due first, for ``owner`` until now + ``lease_s``; each counts
        an attempt. Two owners never hold the same job."""

    def heartbeat(self, owner: str, job_ids: Sequence[str], lease_s: float) -> set[str]:
        """Extend the leases ``owner`` still holds among ``job_ids``.

        Returns:
            The ids it still holds; the others were lost or cancelled and must stop.
        """

    def progress(self, owner: str, job_ids: Sequence[str], progress: float, stage: str) -> None:
        """Record progress (0..1) and the current stage of jobs ``owner`` holds."""

    def complete(self, owner: str, job_id: str, result: dict[str, Any]) -> bool:
        """Mark a held job succeeded with ``result``; False when the lease was lost (the result is then
        discarded)."""

    def complete_many(self, owner: str, results: dict[str, dict[str, Any]]) -> set[str]:
        """``complete`` for each job in one transaction, with the events and deliveries each outcome
        owes (``engines/queue/outbox.py``); returns the ids whose lease ``owner`` held."""

    def fail(
        self,
        owner: str,
        job: Job,
        error_type: str,
        message: str,
        retry_at: float | None,
        *,
        status_code: int | None = None,
        error_class: str | None = None,
        outage: bool = False,
    ) -> JobStatus:
        """Record a failed attempt in the job's history: ``failed`` until ``retry_at``, or ``dead``
        when it is None. ``status_code`` (the error's HTTP-style status, 500 when unknown) and
        ``error_class`` go into the history entry. With ``outage`` (a part was down or full, the job
        not at fault) the entry says so and the attempt is given back: it does not count toward
        ``max_attempts``. A job that ends ``dead`` gets its events and
        deliveries in the same transaction (``engines/queue/outbox.py``), like one that ``complete``s.

        Returns:
            The job's status afterwards; when the lease was lost nothing is recorded and the stored
            status is returned.
        """

    def release(self, owner_prefix: str) -> int:
        """Make running jobs whose owner starts with ``owner_prefix`` leasable at once (their owner is
        known to be gone); returns how many. ``""`` releases every running job: only a process that
        owns the whole store (the embedded profile) may do that."""

    def blob_in_use(self, blob: str, excluding: str) -> bool:
        """Whether a job other than ``excluding`` that may still run refers to ``blob``."""

    def wake_up(self) -> None:
        """Tell every worker this queue reaches that jobs were enqueued (``enqueue`` does it itself;
        callers that enqueue through the metadata store call it after their transaction)."""

    def on_wake_up(self, callback: WakeUp) -> Callable[[], None]:
        """Call ``callback`` (from any thread) whenever jobs are announced; returns the function that
        stops it."""

    def close(self) -> None:
        """Stop delivering wake-ups."""


class JobAdmin(Protocol):
    """The operator's side: read, list, count, retry and cancel jobs."""

    def get(self, job_id: str) -> Job:
        """One job.

        Raises:
            NotFound: no such job.
        """

    def list(
        self,
        *,
        status: str | None = None,
        kind: str | None = None,
        collection: str | None = None,
        limit: int = 50,
        before: float | None = None,
        since: float | None = None,
        view: TenantView | None = None,
    ) -> list[Job]:
        """Jobs newest first, filtered, keyset-paginated on ``created_at`` before ``before``; with
        ``since``, only jobs created at or after it; with ``view``, only that tenant's."""

    def retry(self, job_id: str) -> Job:
        """Replay a dead, failed or cancelled job now with a fresh attempt budget.

        Raises:
            NotFound: no such job.
            Conflict: the job is queued, running or succeeded.
        """

    def cancel(self, job_id: str) -> Job:
        """Cancel a job that has not finished; a running one loses its lease and stops at its next
        stage boundary.

        Raises:
            NotFound: no such job.
            Conflict: the job has already finished.
        """

    def counts(self) -> dict[tuple[str, str], int]:
        """Number of jobs by (kind, status)."""

    def oldest_waiting(self, kinds: Sequence[str]) -> dict[str, float]:
        """For each of ``kinds``, the earliest ``next_run_at`` among its waiting jobs (queued, or failed
        awaiting a retry): the time since which its longest-waiting job has been due, when that is in
        the past. Kinds without waiting jobs are left out. Cheap enough for every metrics scrape (one
        index seek per kind and status).
        """


class EventLog(Protocol):
    """The history of job and document events (written by the queue's outbox): read and purge."""

    def list_events(
        self,
        *,
        after: int | None = None,
        kind: str | None = None,
        collection: str | None = None,
        limit: int = 50,
        view: TenantView | None = None,
    ) -> list[Event]:
        """Events oldest first with an id above ``after`` (a reader's cursor), or newest first when
        ``after`` is None; filtered by exact ``kind`` and ``collection``, and with ``view`` to that
        tenant's."""

    def purge_events(self, before: float, limit: int) -> int:
        """Delete up to ``limit`` of the oldest events created before ``before``; returns how many."""
