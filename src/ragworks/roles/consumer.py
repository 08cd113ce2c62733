"""The consumer role (``ragworks consume``): stream messages become documents, through the store only.

A consumer accepts documents and enqueues their jobs; workers do the rest. It loads no model and no
index: starting one costs a database connection.
"""

from __future__ import annotations

from dataclasses import dataclass

from ragworks.config import Settings
from ragworks.roles.parts import Core, build_core
from ragworks.services.documents import DocumentService


@dataclass
class Consumer:
    """The parts a stream consumer uses: the store, the blob store and document intake."""

    core: Core
    documents: DocumentService

    def start(self) -> None:
        """Connect to the database."""
        self.core.start()

    def stop(self) -> None:
        """Close the database."""
        self.core.stop()


def build_consumer(settings: Settings) -> Consumer:
    """Document intake over the store the settings name."""
    core = build_core(settings)
    documents = DocumentService(
        store=core.stores.store,
        blobs=core.blobs,
        max_attempts=settings.jobs.max_attempts,
        on_enqueued=core.stores.queue.wake_up,
    )
    return Consumer(core, documents)
