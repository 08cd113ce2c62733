"""What the operator's dashboard reads from the jobs table, with queries that stay cheap at any size.

Every query here is answered from an index (``engines/store/schema.py``): the counts by kind and status
scan the covering index ``ix_jobs_status_kind_next_run`` (no table rows), the oldest waiting job is a
``MIN`` on ``ix_jobs_status_created``, and the last hour's series read ``ix_jobs_created`` and
``ix_jobs_finished`` (both covering) over the window only. With 200,000 jobs the whole overview takes tens of
milliseconds on SQLite (``bench/dashboard.py``).

The queue depth of the past is derived, not stored: depth at time t = depth now − jobs created after t
+ jobs finished after t. A dead job replayed by ``retry`` re-enters the queue without a new
``created_at``, so the past depth may be off by the jobs replayed within the hour.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Protocol

from sqlalchemy import Connection, Float, Integer, bindparam, cast, func, select, update

from ragworks.domain import JobStatus
from ragworks.engines.store.schema import jobs

WAITING = (JobStatus.QUEUED, JobStatus.FAILED)  # jobs that wait for a worker (failed: for a retry)
IN_QUEUE = (*WAITING, JobStatus.RUNNING)


@dataclass(frozen=True, slots=True)
class MinutePoint:
    """One bucket of the last hour: what arrived, what finished, and the depth at its end."""

    start: float
    created: int = 0
    succeeded: int = 0
    dead: int = 0
    cancelled: int = 0
    depth: int = 0


@dataclass(frozen=True, slots=True)
class JobOverview:
    """Counts by (kind, status), the queue's depth, its oldest waiting job and the last hour's series."""

    now: float
    counts: dict[tuple[str, str], int]
    depth: int
    oldest_waiting_at: float | None
    series: list[MinutePoint] = field(default_factory=list)


class JobDashboard(Protocol):
    """Reads and bulk actions of the dashboard over the jobs of the store."""

    def overview(self, window_s: float = 3600.0, bucket_s: float = 60.0) -> JobOverview:
        """Counts, depth, oldest waiting job and a series of ``window_s / bucket_s`` buckets."""

    def retry_dead(self, *, kind: str | None = None, collection: str | None = None, batch: int = 1000) -> int:
        """Replay every job dead when the call starts (optionally of one kind / collection), ``batch``
        jobs per transaction; returns how many. Jobs that die again meanwhile are not replayed twice."""


class SqlJobDashboard:
    """``JobDashboard`` on SQLAlchemy Core (SQLite and PostgreSQL alike)."""

    def __init__(self, db: Any) -> None:
        self.db = db

    def overview(self, window_s: float = 3600.0, bucket_s: float = 60.0) -> JobOverview:
        """See ``JobDashboard.overview``."""
        now = time.time()
        buckets = max(1, int(window_s // bucket_s))
        start = now - buckets * bucket_s
        by_kind = select(jobs.c.kind, jobs.c.status, func.count()).group_by(jobs.c.kind, jobs.c.status)
        with self.db.reader.connect() as conn:
            counts = {(kind, status): int(n) for kind, status, n in conn.execute(by_kind)}
            oldest = [
                conn.execute(select(func.min(jobs.c.created_at)).where(jobs.c.status == status)).scalar()
                for status in WAITING
            ]
            created = self._created_per_bucket(conn, start, bucket_s, buckets)
            finished: dict[tuple[int, str], int] = {}
            for (bucket, status), n in self._per_bucket(
                conn, jobs.c.finished_at, start, bucket_s, jobs.c.status
            ):
                finished[(bucket, status)] = n
        depth = sum(n for (_, status), n in counts.items() if status in IN_QUEUE)
        waiting_since = [t for t in oldest if t is not None]
        series = _series(buckets, start, bucket_s, depth, created, finished)
        return JobOverview(now, counts, depth, min(waiting_since) if waiting_since else None, series)

    def retry_dead(self, *, kind: str | None = None, collection: str | None = None, batch: int = 1000) -> int:
        """See ``JobDashboard.retry_dead``: short transactions of ``batch`` jobs each."""
        started = time.time()
        dead = select(jobs.c.id).where(jobs.c.status == JobStatus.DEAD, jobs.c.updated_at <= started)
        if kind is not None:
            dead = dead.where(jobs.c.kind == kind)
        if collection is not None:
            dead = dead.where(jobs.c.collection == collection)
        total = 0
        while True:
            with self.db.writer.begin() as conn:
                ids = list(conn.execute(dead.order_by(jobs.c.created_at).limit(batch)).scalars())
                if not ids:
                    return total
                now = time.time()
                total += int(
                    conn.execute(
                        update(jobs)
                        .where(jobs.c.id.in_(ids), jobs.c.status == JobStatus.DEAD)
                        .values(
                            status=JobStatus.QUEUED,
                            attempts=0,
                            next_run_at=now,
                            finished_at=None,
                            updated_at=now,
                        )
                    ).rowcount
                )

    @staticmethod
    def _created_per_bucket(conn: Connection, start: float, bucket_s: float, buckets: int) -> dict[int, int]:
        """Jobs created per bucket: one index range count each, which SQLite answers faster than one
        GROUP BY over a computed bucket (that sorts every row of the window in a temporary tree)."""
        edges = [start + b * bucket_s for b in range(buckets + 1)]
        count = select(func.count()).where(
            jobs.c.created_at >= bindparam("low"), jobs.c.created_at < bindparam("high")
        )
        counts = [
            conn.execute(count, {"low": low, "high": high}).scalar_one() for low, high in pairwise(edges)
        ]
        return {b: int(n) for b, n in enumerate(counts) if n}

    @staticmethod
    def _per_bucket(
        conn: Connection, column: Any, start: float, bucket_s: float, by: Any | None
    ) -> Iterator[tuple[Any, int]]:
        """Rows of ``column >= start`` counted per bucket (and per ``by``), read from its index."""
        offset = (cast(column, Float) - start) / bucket_s
        # integer division that rounds down on both engines (SQLite's CAST truncates; PostgreSQL's rounds)
        bucket = cast(offset, Integer) if conn.dialect.name == "sqlite" else cast(func.floor(offset), Integer)
        columns = [bucket.label("bucket")] + ([by] if by is not None else [])
        query = select(*columns, func.count()).where(column >= start).group_by(*columns)
        for row in conn.execute(query):
            key = (int(row[0]), row[1]) if by is not None else int(row[0])
            yield key, int(row[-1])


def _series(
    buckets: int,
    start: float,
    bucket_s: float,
    depth_now: int,
    created: dict[int, int],
    finished: dict[tuple[int, str], int],
) -> list[MinutePoint]:
    """Buckets oldest first; each bucket's depth is the depth at its end, walked back from now."""
    points: list[MinutePoint] = []
    depth = depth_now
    for b in reversed(range(buckets)):
        done = {
            s: finished.get((b, s), 0) for s in (JobStatus.SUCCEEDED, JobStatus.DEAD, JobStatus.CANCELLED)
        }
        points.append(
            MinutePoint(
                start=start + b * bucket_s,
                created=created.get(b, 0),
                succeeded=done[JobStatus.SUCCEEDED],
                dead=done[JobStatus.DEAD],
                cancelled=done[JobStatus.CANCELLED],
                depth=max(depth, 0),
            )
        )
        depth += sum(done.values()) - created.get(b, 0)  # the depth at the end of the bucket before
    points.reverse()
    return points
