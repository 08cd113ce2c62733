"""The job queue on PostgreSQL: ``SqlJobQueue``'s SQL, with wake-ups that reach every process.

Leases are ``SqlJobQueue.lease`` (``FOR UPDATE SKIP LOCKED``, rendered here). Wake-ups travel by
LISTEN/NOTIFY on ``JOBS_CHANNEL``: a trigger on ``jobs`` (migration 0002) notifies when a transaction
that inserted jobs or put one back to ``queued`` commits, whoever wrote it (``enqueue``, the metadata
store's ``accept_documents`` and ``request_delete``, ``retry``); ``wake_up`` notifies explicitly.
Each queue with callbacks keeps one listening connection in a daemon thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import text

from ragworks.engines.queue.base import WakeUp
from ragworks.engines.queue.outbox import DeliveryRouter
from ragworks.engines.queue.pg_listener import NotificationListener
from ragworks.engines.queue.sql import SqlJobQueue
from ragworks.engines.store.postgres import PostgresDatabase

JOBS_CHANNEL = "ragworks_jobs"  # the channel the migration's trigger notifies


class PostgresJobQueue(SqlJobQueue):
    """Jobs in the PostgreSQL database; wake-ups reach the workers of every process on it."""

    def __init__(self, db: PostgresDatabase, router: DeliveryRouter | None = None) -> None:
        super().__init__(db, router)
        self.db: PostgresDatabase = db
        self._lock = threading.Lock()
        self._listener: NotificationListener | None = None

    def wake_up(self) -> None:
        """Call this process's callbacks now and notify every other process's listeners."""
        self._call_listeners()
        with self.db.writer.begin() as conn:
            conn.execute(text("SELECT pg_notify(:channel, '')"), {"channel": JOBS_CHANNEL})

    def on_wake_up(self, callback: WakeUp) -> Callable[[], None]:
        """Call ``callback`` whenever jobs are announced in any process; returns its remover."""
        remove = super().on_wake_up(callback)
        with self._lock:
            if self._listener is None:
                self._listener = NotificationListener(self.db.conninfo, JOBS_CHANNEL, self._call_listeners)
                self._listener.start()
        return remove

    def close(self) -> None:
        """Stop the listening thread and forget the callbacks."""
        with self._lock:
            listener, self._listener = self._listener, None
        if listener is not None:
            listener.stop()
        super().close()

    @property
    def listening(self) -> threading.Event:
        """Set while the wake-up listener holds an open LISTEN connection (tests wait on it)."""
        with self._lock:
            return self._listener.listening if self._listener else threading.Event()
