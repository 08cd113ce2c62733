"""Worker processes as the ``workers`` table sees them: who runs, where, and which jobs each holds.

Each worker writes its row at start, refreshes it at every heartbeat (one UPDATE: ``last_seen`` and
the jobs it runs) and marks it stopped on a clean stop. A worker that died without stopping simply
stops being seen: readers ask for the ones seen within a few heartbeats. Rows stopped or unseen for
more than a day are purged when a worker registers, so the table stays as small as the fleet.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Row, delete, insert, or_, select, update

from ragworks.engines.store.schema import workers

STALE_AFTER_S = 86_400.0  # rows stopped or unseen for longer than this are purged


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """One worker process: its lanes and the jobs it held at its last heartbeat."""

    owner: str
    host: str
    pid: int
    role: str
    lanes: list[str]
    running: list[dict[str, Any]] = field(default_factory=list)  # {job_id, kind, lane, since}
    started_at: float = 0.0
    last_seen: float = 0.0
    stopped_at: float | None = None


class WorkerRegistry(Protocol):
    """Where worker processes announce themselves (the store of every profile)."""

    def register(self, owner: str, host: str, pid: int, role: str, lanes: Sequence[str]) -> None:
        """Record a starting worker (replacing any row of the same owner) and purge stale rows."""

    def beat(self, owner: str, running: Sequence[Mapping[str, Any]]) -> None:
        """Refresh ``owner``'s last heartbeat and the jobs it runs (``{job_id, kind, lane, since}``)."""

    def stopped(self, owner: str) -> None:
        """Mark ``owner`` stopped cleanly (it runs nothing any more)."""

    def live(self, within_s: float) -> list[WorkerInfo]:
        """Workers not stopped whose last heartbeat is at most ``within_s`` old, oldest first."""

    def list(self, *, limit: int = 100) -> list[WorkerInfo]:
        """The most recently seen workers, live or not, newest first."""

    def purge(self, older_than_s: float = STALE_AFTER_S) -> int:
        """Delete rows stopped or unseen for more than ``older_than_s``; returns how many."""


def worker_from_row(row: Row[Any]) -> WorkerInfo:
    """A WorkerInfo from a ``workers`` row."""
    m = row._mapping
    return WorkerInfo(
        owner=m["owner"],
        host=m["host"],
        pid=int(m["pid"]),
        role=m["role"],
        lanes=list(m["lanes"] or []),
        running=list(m["running"] or []),
        started_at=m["started_at"],
        last_seen=m["last_seen"],
        stopped_at=m["stopped_at"],
    )


class SqlWorkerRegistry:
    """The ``workers`` table on SQLAlchemy Core (SQLite and PostgreSQL alike; see ``WorkerRegistry``)."""

    def __init__(self, db: Any) -> None:
        self.db = db

    def register(self, owner: str, host: str, pid: int, role: str, lanes: Sequence[str]) -> None:
        """Insert the worker's row (after deleting one of the same owner) and purge stale rows."""
        now = time.time()
        row = {
            "owner": owner,
            "host": host[:255],
            "pid": pid,
            "role": role[:32],
            "lanes": list(lanes),
            "running": [],
            "started_at": now,
            "last_seen": now,
            "stopped_at": None,
        }
        with self.db.writer.begin() as conn:
            conn.execute(delete(workers).where(workers.c.owner == owner))
            conn.execute(insert(workers).values(**row))
            conn.execute(delete(workers).where(self._stale(now - STALE_AFTER_S)))

    def beat(self, owner: str, running: Sequence[Mapping[str, Any]]) -> None:
        """One UPDATE: the heartbeat's time and the jobs held now."""
        with self.db.writer.begin() as conn:
            conn.execute(
                update(workers)
                .where(workers.c.owner == owner)
                .values(last_seen=time.time(), running=[dict(job) for job in running])
            )

    def stopped(self, owner: str) -> None:
        """Mark the row stopped and empty its running jobs."""
        now = time.time()
        with self.db.writer.begin() as conn:
            conn.execute(
                update(workers)
                .where(workers.c.owner == owner)
                .values(stopped_at=now, last_seen=now, running=[])
            )

    def live(self, within_s: float) -> list[WorkerInfo]:
        """Workers seen within ``within_s`` and not stopped, oldest start first."""
        query = (
            select(workers)
            .where(workers.c.last_seen >= time.time() - within_s, workers.c.stopped_at.is_(None))
            .order_by(workers.c.started_at, workers.c.owner)
        )
        with self.db.reader.connect() as conn:
            return [worker_from_row(r) for r in conn.execute(query)]

    def list(self, *, limit: int = 100) -> list[WorkerInfo]:
        """The ``limit`` most recently seen workers."""
        query = select(workers).order_by(workers.c.last_seen.desc()).limit(limit)
        with self.db.reader.connect() as conn:
            return [worker_from_row(r) for r in conn.execute(query)]

    def purge(self, older_than_s: float = STALE_AFTER_S) -> int:
        """Delete rows stopped or unseen for more than ``older_than_s``."""
        with self.db.writer.begin() as conn:
            return int(conn.execute(delete(workers).where(self._stale(time.time() - older_than_s))).rowcount)

    @staticmethod
    def _stale(before: float) -> Any:
        return or_(workers.c.last_seen < before, workers.c.stopped_at < before)
