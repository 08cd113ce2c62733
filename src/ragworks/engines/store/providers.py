"""Which store adapters each ``store.url`` scheme names (one line per scheme).

The store, the chunk records and the job queue live in one database: a document and its ingest job are
written in one transaction, so the three adapters of a scheme are built together on one connection.
The queue gets the event router the settings configure: a job's outcome, its events and their
deliveries are written in one transaction too (``engines/queue/outbox.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ragworks.config import Settings
from ragworks.engines.queue.base import EventLog, JobAdmin, JobQueue
from ragworks.engines.queue.dashboard import JobDashboard
from ragworks.engines.store.base import ChunkStore, Database, MetadataStore
from ragworks.engines.store.workers import WorkerRegistry
from ragworks.jobs.events import EventRouter  # pure routing rules: which deliveries an outcome owes

if TYPE_CHECKING:  # the SQL adapters are imported only when a scheme is chosen
    from ragworks.engines.queue.sql import SqlJobQueue
    from ragworks.engines.store.sql import SqlDatabase


@dataclass(frozen=True, slots=True)
class StoreEngines:
    """The adapters of one database: ``database`` starts and closes them all."""

    database: Database
    store: MetadataStore
    chunks: ChunkStore
    queue: JobQueue
    jobs: JobAdmin
    events: EventLog
    workers: WorkerRegistry  # worker heartbeats: who runs, and what each runs now
    dashboard: JobDashboard  # the dashboard's counts, series and bulk retry over the jobs


def _sqlite(settings: Settings) -> StoreEngines:
    from ragworks.engines.queue.sql import SqlJobQueue
    from ragworks.engines.store.sql import SqlDatabase

    db = SqlDatabase(settings.database_url, lock_timeout_s=settings.store.lock_timeout_s)
    return _sql_engines(db, SqlJobQueue(db, EventRouter.from_settings(settings)))


def _postgres(settings: Settings) -> StoreEngines:
    from ragworks.engines.queue.postgres import PostgresJobQueue
    from ragworks.engines.store.postgres import PostgresDatabase

    db = PostgresDatabase(settings.database_url, lock_timeout_s=settings.store.lock_timeout_s)
    return _sql_engines(db, PostgresJobQueue(db, EventRouter.from_settings(settings)))


def _sql_engines(db: SqlDatabase, queue: SqlJobQueue) -> StoreEngines:
    """The parts every SQL database serves alike, around its own database and queue adapters."""
    from ragworks.engines.queue.dashboard import SqlJobDashboard
    from ragworks.engines.queue.sql_events import SqlEventLog
    from ragworks.engines.store.sql import SqlMetadataStore
    from ragworks.engines.store.sql_chunks import SqlChunkStore
    from ragworks.engines.store.workers import SqlWorkerRegistry

    return StoreEngines(
        db,
        SqlMetadataStore(db),
        SqlChunkStore(db),
        queue,
        queue,
        SqlEventLog(db),
        workers=SqlWorkerRegistry(db),
        dashboard=SqlJobDashboard(db),
    )


STORES: dict[str, Callable[[Settings], StoreEngines]] = {
    "sqlite": _sqlite,
    "postgresql": _postgres,
}


def build_store(settings: Settings) -> StoreEngines:
    """The adapters ``store.url`` names (cheap: nothing connects before ``database.start()``)."""
    scheme = settings.database_url.split(":", 1)[0].split("+", 1)[0]
    build = STORES.get(scheme)
    if build is None:
        known = ", ".join(sorted(STORES))
        raise ValueError(f"store.url: unknown database '{scheme}' (known: {known})")
    return build(settings)
