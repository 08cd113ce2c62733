"""The engines of one serving process, started and stopped in order.

A ``Container`` is what the HTTP app runs on. It is built by a role's composition root
(``ragworks.roles``): the embedded role owns its data dir and runs the job workers in-process; the api
role of the scaled profile serves HTTP only, beside separate worker processes.
"""

from __future__ import annotations

import fcntl
import logging
import os
from dataclasses import dataclass, field
from typing import IO

import anyio

from ragworks.config import Settings
from ragworks.engines.blob.base import BlobStore
from ragworks.engines.embed.base import Embedder
from ragworks.engines.index.base import SearchIndex
from ragworks.engines.index.repair import repair_collection
from ragworks.engines.llm.base import LLM
from ragworks.engines.queue.base import JobAdmin, JobQueue
from ragworks.engines.store.base import ChunkStore, MetadataStore
from ragworks.errors import Conflict
from ragworks.ingest.analysis import Analyzer
from ragworks.ingest.parsers.isolation import IsolatedParser
from ragworks.jobs.worker import Worker
from ragworks.observability.metrics import IndexStats, Metrics
from ragworks.roles.parts import Core, Search, build_parser, build_worker
from ragworks.services.registry import ServiceRegistry
from ragworks.services.retrieve import Retriever
from ragworks.services.runner import ServiceRunner

log = logging.getLogger(__name__)


@dataclass
class Container:
    """Core and search parts, plus the in-process job workers when ``run_jobs``.

    ``exclusive``: this process owns the whole store and index (the embedded profile). It locks the data
    dir, repairs the index from the store at start-up and takes back every job left running at once;
    processes that share a store instead wait for leases to expire.
    """

    core: Core
    search: Search
    run_jobs: bool
    exclusive: bool
    ready: bool = False
    parser: IsolatedParser | None = None
    worker: Worker | None = None
    _lock_file: IO[str] | None = field(default=None, repr=False)

    # the parts routes, services and tools use ------------------------------------------------

    @property
    def settings(self) -> Settings:
        return self.core.settings

    @property
    def metrics(self) -> Metrics:
        return self.core.metrics

    @property
    def store(self) -> MetadataStore:
        return self.core.stores.store

    @property
    def chunks(self) -> ChunkStore:
        return self.core.stores.chunks

    @property
    def queue(self) -> JobQueue:
        return self.core.stores.queue

    @property
    def jobs(self) -> JobAdmin:
        return self.core.stores.jobs

    @property
    def blobs(self) -> BlobStore:
        return self.core.blobs

    @property
    def embedder(self) -> Embedder:
        return self.search.embedder

    @property
    def index(self) -> SearchIndex:
        return self.search.index

    @property
    def analyzer(self) -> Analyzer:
        return self.search.analyzer

    @property
    def retriever(self) -> Retriever:
        return self.search.retriever

    @property
    def llm(self) -> LLM:
        return self.search.llm

    @property
    def registry(self) -> ServiceRegistry:
        return self.search.registry

    @property
    def services(self) -> ServiceRunner:
        return self.search.services

    # lifecycle ---------------------------------------------------------------------------------

    def start_engines(self) -> None:
        """Open the store, models and index; when exclusive, lock the data dir and repair the index."""
        if self.exclusive:
            self.settings.data_dir.mkdir(parents=True, exist_ok=True)
            self._lock_data_dir()
        self.core.start()
        self.search.start()
        if self.exclusive:
            self.reconcile_index()
        self.metrics.set_index_stats_source(self._index_stats)

    async def start(self, *, workers: bool = True) -> None:
        """Start engines (in a thread) and, for roles that run jobs, the job workers."""
        await anyio.to_thread.run_sync(self.start_engines)
        if workers and self.run_jobs:
            self.parser = build_parser(self.settings)
            await anyio.to_thread.run_sync(self.parser.start)
            self.worker = build_worker(self.core, self.search, self.parser)
            await self.worker.start(reclaim_all=self.exclusive)
        self.ready = True

    async def stop(self) -> None:
        """Stop workers, persist the index, close everything."""
        self.ready = False
        if self.worker is not None:
            await self.worker.stop()
        await anyio.to_thread.run_sync(self.stop_engines)

    def stop_engines(self) -> None:
        """Close engines in reverse order of start."""
        if self.parser is not None:
            self.parser.close()
        self.search.stop()
        self.core.stop()
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def notify_workers(self) -> None:
        """Tell idle workers (of every process the queue reaches) that jobs were enqueued."""
        self.queue.wake_up()

    def reconcile_index(self) -> None:
        """Make the index hold exactly the chunks the store serves (after a crash or damage).

        Only an exclusive owner may do this: with other processes writing, a chunk indexed but not yet
        activated would look like a stray.
        """
        with self.search.index_lock:
            for collection in self.store.list_collections():
                repair = repair_collection(self.index, self.chunks, collection.name, self.embedder.dimension)
                if repair.added or repair.removed:
                    log.info(
                        "repaired index from the store",
                        extra={
                            "collection": collection.name,
                            "added": repair.added,
                            "removed": repair.removed,
                        },
                    )

    def _index_stats(self) -> IndexStats:
        counts = {c.name: self.index.count(c.name) for c in self.store.list_collections()}
        return IndexStats(size_bytes=self.index.size_bytes(), chunks=counts)

    def _lock_data_dir(self) -> None:
        # One process owns a data dir: that is what lets start-up reclaim every running job at once.
        handle = open(self.settings.data_dir / ".lock", "w")  # noqa: SIM115 - held for the process lifetime
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise Conflict(f"another ragworks process is using {self.settings.data_dir}") from None
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock_file = handle
