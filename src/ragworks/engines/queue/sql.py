"""The durable job queue on SQL: leases with expiry, retries with backoff, a dead-letter state."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, func, literal, select, union_all, update
from sqlalchemy.exc import IntegrityError

from ragworks.domain import Job, JobStatus, TenantView
from ragworks.engines.queue.base import WakeUp
from ragworks.engines.queue.job_rows import insert_job, job_row
from ragworks.engines.queue.outbox import DeliveryRouter, record_outcomes
from ragworks.engines.store.rows import job_from_row
from ragworks.engines.store.schema import jobs
from ragworks.engines.store.tenancy import visible_to
from ragworks.errors import Conflict, NotFound

# Statuses a worker may lease: queued, failed (waiting for its retry), running with an expired lease.
_RUNNABLE = (JobStatus.QUEUED, JobStatus.FAILED)

__all__ = ["SqlJobQueue", "insert_job", "job_row"]  # the row builders stay importable from here


class SqlJobQueue:
    """Jobs stored in the ``jobs`` table of the metadata database (see ``JobQueue`` and ``JobAdmin``).

    Wake-ups reach the workers of this process only: the embedded profile's one process owns the
    database file. A job that succeeds or dies gets its events and the deliveries ``router`` names in
    the transaction that records it (``outbox.record_outcomes``); without a router only the events.
    """

    def __init__(self, db: Any, router: DeliveryRouter | None = None) -> None:
        self.db = db
        self.router = router
        self._listeners: list[WakeUp] = []

    def enqueue(self, kind: str, payload: dict[str, Any], **fields: Any) -> str:
        """Insert a queued job in its own transaction and announce it; returns its id.

        Raises:
            Conflict: ``job_id`` was given and a job with that id exists.
        """
        try:
            with self.db.writer.begin() as conn:
                job_id = insert_job(conn, kind=kind, payload=payload, **fields)
        except IntegrityError as exc:
            raise Conflict(f"job '{fields.get('job_id')}' exists already") from exc
        self._call_listeners()  # other processes, where there are any, learn it from the database
        return job_id

    def wake_up(self) -> None:
        """Call every registered wake-up callback."""
        self._call_listeners()

    def _call_listeners(self) -> None:
        for listener in list(self._listeners):
            listener()

    def on_wake_up(self, callback: WakeUp) -> Callable[[], None]:
        """Call ``callback`` whenever jobs are announced in this process; returns its remover."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    def close(self) -> None:
        """Forget the wake-up callbacks."""
        self._listeners.clear()

    def lease(self, owner: str, kinds: Sequence[str], limit: int, lease_s: float) -> list[Job]:
        """Claim up to ``limit`` due jobs of ``kinds`` for ``owner`` until now + ``lease_s``."""
        now = time.time()
        due = (jobs.c.status.in_(_RUNNABLE) & (jobs.c.next_run_at <= now)) | (
            (jobs.c.status == JobStatus.RUNNING) & (jobs.c.lease_expires_at < now)
        )
        # Engines with row locks (PostgreSQL) skip the jobs another worker is claiming right now, and the
        # UPDATE checks again that each job is still due: two owners never hold one job. SQLite's write
        # lock serialises leases (it renders no FOR UPDATE).
        claimable = (
            select(jobs.c.id)
            .where(due, jobs.c.kind.in_(kinds))
            .order_by(jobs.c.next_run_at, jobs.c.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        with self.db.writer.begin() as conn:
            ids = list(conn.execute(claimable).scalars())
            if not ids:
                return []
            conn.execute(
                update(jobs)
                .where(jobs.c.id.in_(ids), due)
                .values(
                    status=JobStatus.RUNNING,
                    lease_owner=owner,
                    lease_expires_at=now + lease_s,
                    attempts=jobs.c.attempts + 1,
                    started_at=func.coalesce(jobs.c.started_at, now),
                    updated_at=now,
                )
            )
            rows = conn.execute(select(jobs).where(self._held(owner, ids)).order_by(jobs.c.created_at))
            return [job_from_row(r) for r in rows]

    def heartbeat(self, owner: str, job_ids: Sequence[str], lease_s: float) -> set[str]:
        """Extend the leases ``owner`` still holds; returns the ids it still holds (others were lost
        or cancelled and must stop)."""
        now = time.time()
        with self.db.writer.begin() as conn:
            conn.execute(
                update(jobs)
                .where(self._held(owner, job_ids))
                .values(lease_expires_at=now + lease_s, updated_at=now)
            )
            return set(conn.execute(select(jobs.c.id).where(self._held(owner, job_ids))).scalars())

    def progress(self, owner: str, job_ids: Sequence[str], progress: float, stage: str) -> None:
        """Record progress (0..1) and the current stage of held jobs."""
        with self.db.writer.begin() as conn:
            conn.execute(
                update(jobs)
                .where(self._held(owner, job_ids))
                .values(progress=progress, stage=stage, updated_at=time.time())
            )

    def complete(self, owner: str, job_id: str, result: dict[str, Any]) -> bool:
        """Mark a held job succeeded; False when the lease was lost (the result is then discarded)."""
        return job_id in self.complete_many(owner, {job_id: result})

    def complete_many(self, owner: str, results: dict[str, dict[str, Any]]) -> set[str]:
        """Mark held jobs succeeded, each with its result, in one transaction.

        Returns the ids whose lease ``owner`` still held; the results of the others are discarded.
        """
        if not results:
            return set()
        now = time.time()
        held_query = select(jobs.c.id).where(self._held(owner, list(results))).with_for_update()
        finish = (
            update(jobs)
            .where(jobs.c.id == bindparam("job_id"), jobs.c.lease_owner == owner)
            .where(jobs.c.status == JobStatus.RUNNING)
            .values(
                status=JobStatus.SUCCEEDED,
                result=bindparam("job_result"),
                progress=1.0,
                stage="done",
                lease_owner=None,
                lease_expires_at=None,
                error_type=None,
                error_message=None,
                finished_at=now,
                updated_at=now,
            )
        )
        owed = 0
        with self.db.writer.begin() as conn:
            held = set(conn.execute(held_query).scalars())
            if held:
                conn.execute(finish, [{"job_id": i, "job_result": results[i]} for i in held])
                owed = record_outcomes(conn, self.router, self._stored(conn, held))
        if owed:
            self._call_listeners()  # deliveries to run; other processes learn it from the database
        return held

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
        """Record a failed attempt: back to ``failed`` until ``retry_at``, or ``dead`` when None.

        ``status_code`` and ``error_class`` (the HTTP-style status and exception class of the error)
        go into the history entry; a dead job's events and replies report them. An ``outage`` attempt
        (a part was down or full) is marked so in the history and given back (``attempts`` - 1).

        Returns the status the job has afterwards: when the lease was lost (the job was cancelled or
        taken over), nothing is recorded and the stored status is returned.
        """
        now = time.time()
        status = JobStatus.FAILED if retry_at is not None else JobStatus.DEAD
        entry: dict[str, Any] = {
            "attempt": job.attempts,
            "at": now,
            "error_type": error_type,
            "message": message,
        }
        if status_code is not None:
            entry["status_code"] = status_code
        if error_class is not None:
            entry["error_class"] = error_class
        if outage:
            entry["outage"] = True
        owed = 0
        with self.db.writer.begin() as conn:
            history = conn.execute(select(jobs.c.history).where(jobs.c.id == job.id)).scalar_one_or_none()
            changed = conn.execute(
                update(jobs)
                .where(self._held(owner, [job.id]))
                .values(
                    status=status,
                    error_type=error_type,
                    error_message=message,
                    next_run_at=retry_at if retry_at is not None else now,
                    lease_owner=None,
                    lease_expires_at=None,
                    history=[*(history or []), entry],
                    attempts=jobs.c.attempts - 1 if outage else jobs.c.attempts,
                    finished_at=None if retry_at is not None else now,
                    updated_at=now,
                )
            ).rowcount
            if not changed:
                stored = conn.execute(select(jobs.c.status).where(jobs.c.id == job.id)).scalar_one()
                return JobStatus(stored)
            if status == JobStatus.DEAD:
                owed = record_outcomes(conn, self.router, self._stored(conn, [job.id]))
        if owed:
            self._call_listeners()
        return status

    def get(self, job_id: str) -> Job:
        """One job; NotFound if missing."""
        with self.db.reader.connect() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).first()
        if row is None:
            raise NotFound(f"job '{job_id}' not found")
        return job_from_row(row)

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
        """Jobs newest first, filtered, keyset-paginated on created_at (``since``: created at or after);
        with ``view``, only that tenant's."""
        query = select(jobs)
        if view is not None:
            query = query.where(visible_to(jobs, view))
        for column, value in ((jobs.c.status, status), (jobs.c.kind, kind), (jobs.c.collection, collection)):
            if value is not None:
                query = query.where(column == value)
        if before is not None:
            query = query.where(jobs.c.created_at < before)
        if since is not None:
            query = query.where(jobs.c.created_at >= since)
        with self.db.reader.connect() as conn:
            rows = conn.execute(query.order_by(jobs.c.created_at.desc()).limit(limit))
            return [job_from_row(r) for r in rows]

    def retry(self, job_id: str) -> Job:
        """Replay a dead, failed or cancelled job now, with a fresh attempt budget."""
        now = time.time()
        with self.db.writer.begin() as conn:
            replayable = (JobStatus.DEAD, JobStatus.FAILED, JobStatus.CANCELLED)
            changed = conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status.in_(replayable))
                .values(
                    status=JobStatus.QUEUED, attempts=0, next_run_at=now, finished_at=None, updated_at=now
                )
            ).rowcount
        if not changed:
            job = self.get(job_id)
            raise Conflict(
                f"job '{job_id}' is {job.status}; only dead, failed or cancelled jobs can be retried"
            )
        self._call_listeners()  # other processes' workers are woken by the database, where it can
        return self.get(job_id)

    def cancel(self, job_id: str) -> Job:
        """Cancel a job that has not finished; a running one stops at its next stage boundary."""
        now = time.time()
        with self.db.writer.begin() as conn:
            open_states = (JobStatus.QUEUED, JobStatus.FAILED, JobStatus.RUNNING)
            changed = conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status.in_(open_states))
                .values(status=JobStatus.CANCELLED, lease_owner=None, finished_at=now, updated_at=now)
            ).rowcount
        if not changed:
            job = self.get(job_id)
            raise Conflict(f"job '{job_id}' is already {job.status}")
        return self.get(job_id)

    def counts(self) -> dict[tuple[str, str], int]:
        """Number of jobs by (kind, status), for metrics."""
        with self.db.reader.connect() as conn:
            rows = conn.execute(
                select(jobs.c.kind, jobs.c.status, func.count()).group_by(jobs.c.kind, jobs.c.status)
            )
            return {(kind, status): n for kind, status, n in rows}

    def oldest_waiting(self, kinds: Sequence[str]) -> dict[str, float]:
        """Earliest ``next_run_at`` of each kind's queued or failed jobs, for metrics.

        One ``MIN`` per (status, kind), each answered by a seek on ``ix_jobs_status_kind_next_run``:
        the cost does not grow with the backlog.
        """
        if not kinds:
            return {}
        parts = [
            select(literal(kind).label("kind"), func.min(jobs.c.next_run_at).label("oldest")).where(
                jobs.c.status == status, jobs.c.kind == kind
            )
            for kind in kinds
            for status in _RUNNABLE
        ]
        oldest: dict[str, float] = {}
        with self.db.reader.connect() as conn:
            for kind, at in conn.execute(union_all(*parts)):
                if at is not None:
                    oldest[kind] = min(at, oldest.get(kind, at))
        return oldest

    def blob_in_use(self, blob: str, excluding: str) -> bool:
        """Whether a job other than ``excluding`` that may still run refers to ``blob``."""
        # all but succeeded: dead and cancelled jobs may be replayed (``retry``) and need their input
        live = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.FAILED, JobStatus.DEAD, JobStatus.CANCELLED)
        query = select(jobs.c.id).where(
            jobs.c.payload["blob"].as_string() == blob, jobs.c.id != excluding, jobs.c.status.in_(live)
        )
        with self.db.reader.connect() as conn:
            return conn.execute(query.limit(1)).first() is not None

    def release(self, owner_prefix: str) -> int:
        """Return running jobs whose owner is gone (a previous run of this process) to the queue."""
        now = time.time()
        with self.db.writer.begin() as conn:
            return int(
                conn.execute(
                    update(jobs)
                    .where(jobs.c.status == JobStatus.RUNNING, jobs.c.lease_owner.like(f"{owner_prefix}%"))
                    .values(lease_expires_at=now - 1, updated_at=now)
                ).rowcount
            )

    @staticmethod
    def _stored(conn: Connection, job_ids: Sequence[str] | set[str]) -> Sequence[Job]:
        """Jobs as stored now, inside the caller's transaction (oldest first: events keep that order)."""
        rows = conn.execute(select(jobs).where(jobs.c.id.in_(list(job_ids))).order_by(jobs.c.created_at))
        return [job_from_row(r) for r in rows]

    @staticmethod
    def _held(owner: str, job_ids: Sequence[str]) -> Any:
        return (
            (jobs.c.id.in_(list(job_ids)))
            & (jobs.c.lease_owner == owner)
            & (jobs.c.status == JobStatus.RUNNING)
        )
