"""The consumer role (``ragworks consume``): stream messages become documents and service jobs, through
the store only.

A consumer accepts documents and enqueues jobs; workers do the rest. It loads no model and no index:
starting one costs a database connection (and importing the service registry, to check requests).
"""

from __future__ import annotations

from dataclasses import dataclass

from ragworks.config import Settings
from ragworks.roles.parts import Core, build_core
from ragworks.services.documents import DocumentService
from ragworks.services.registry import ServiceRegistry, load_registry
from ragworks.streams.intake import Intake


@dataclass
class Consumer:
    """The parts a stream consumer uses: the store, the blob store, document intake and the queue."""

    core: Core
    documents: DocumentService
    intake: Intake

    def start(self) -> None:
        """Connect to the database."""
        self.core.start()

    def stop(self) -> None:
        """Close the database."""
        self.core.stop()


def require_shared_store(settings: Settings) -> None:
    """Raise ValueError when the store is one process's SQLite file (a consumer runs beside the server)."""
    if settings.database_url.startswith("sqlite"):
        raise ValueError(
            "the consumer role runs beside other processes: store.url must name a shared database "
            "(postgresql+psycopg://...). In the embedded profile, `ragworks serve --streams FILE` "
            "consumes streams in its own process."
        )


def build_intake(core: Core, registry: ServiceRegistry) -> Intake:
    """Document intake and service requests over ``core``'s store and queue."""
    settings, stores = core.settings, core.stores
    documents = DocumentService(
        store=stores.store,
        blobs=core.blobs,
        max_attempts=settings.jobs.max_attempts,
        on_enqueued=stores.queue.wake_up,
    )
    return Intake(
        documents=documents,
        store=stores.store,
        queue=stores.queue,
        admin=stores.jobs,
        registry=registry,
        max_attempts=settings.services.max_attempts,
    )


def build_consumer(settings: Settings) -> Consumer:
    """The consumer role over the store the settings name."""
    core = build_core(settings)
    intake = build_intake(core, load_registry(settings.services))
    return Consumer(core, intake.documents, intake)
