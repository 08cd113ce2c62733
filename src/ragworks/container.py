"""Wiring: builds every engine and service from the settings, starts and stops them in order."""

from __future__ import annotations

import fcntl
import itertools
import logging
import os
import threading
from dataclasses import dataclass, field
from typing import IO

import anyio

from ragworks.config import Settings
from ragworks.domain import Job, JobKind, JobStatus
from ragworks.engines.blob.local import LocalBlobStore
from ragworks.engines.embed.minilm import MiniLMEmbedder
from ragworks.engines.index.local import LocalSearchIndex
from ragworks.engines.llm.providers import build_llm
from ragworks.engines.queue.sql import SqlJobQueue
from ragworks.engines.store.sql import SqlDatabase, SqlMetadataStore
from ragworks.engines.store.sql_chunks import SqlChunkStore
from ragworks.errors import Conflict
from ragworks.ingest.analysis import Analyzer
from ragworks.ingest.chunking import Chunker
from ragworks.ingest.parsers.base import ParseLimits
from ragworks.ingest.parsers.isolation import IsolatedParser
from ragworks.ingest.pipeline import IngestPipeline
from ragworks.jobs.callbacks import Callbacks, load_secret
from ragworks.jobs.handlers import DocumentJobs
from ragworks.jobs.service_jobs import ServiceJobs
from ragworks.jobs.worker import Lane, Worker
from ragworks.observability.metrics import IndexStats, Metrics
from ragworks.services.registry import load_registry
from ragworks.services.retrieve import Retriever
from ragworks.services.runner import ServiceRunner

log = logging.getLogger(__name__)


def parse_limits(settings: Settings) -> ParseLimits:
    """Parser safety limits from the settings."""
    ingest = settings.ingest
    return ParseLimits(
        max_pages=ingest.max_pages,
        max_uncompressed_bytes=ingest.max_uncompressed_bytes,
        max_compression_ratio=ingest.max_compression_ratio,
        timeout_s=ingest.parse_timeout_s,
    )


@dataclass
class Container:
    """Every long-lived object of one ragworks instance. Cheap to build; ``start()`` does the work."""

    settings: Settings
    metrics: Metrics = field(default_factory=Metrics)
    index_lock: threading.Lock = field(default_factory=threading.Lock)
    ready: bool = False

    def __post_init__(self) -> None:
        s = self.settings
        self.db = SqlDatabase(s.database_url)
        self.store = SqlMetadataStore(self.db)
        self.chunks = SqlChunkStore(self.db)
        self.queue = SqlJobQueue(self.db)
        self.blobs = LocalBlobStore(s.data_dir / "blobs")
        self.embedder = MiniLMEmbedder(batch_size=s.embed.batch_size, threads=s.embed.threads)
        self.index = LocalSearchIndex(s.index_dir, self.embedder.dimension)
        self.analyzer = Analyzer()
        self.parser = IsolatedParser(parse_limits(s), workers=s.ingest.parser_processes)
        self.retriever = Retriever(
            store=self.store,
            chunk_store=self.chunks,
            index=self.index,
            analyzer=self.analyzer,
            embedder=self.embedder,
            settings=s.search,
        )
        self.llm = build_llm(s.llm)
        self.registry = load_registry(s.services)
        self.services = ServiceRunner(
            registry=self.registry,
            settings=s,
            retriever=self.retriever,
            llm=self.llm,
            embedder=self.embedder,
            analyzer=self.analyzer,
            store=self.store,
            chunks=self.chunks,
            metrics=self.metrics,
        )
        self._lock_file: IO[str] | None = None
        self.worker: Worker | None = None

    def start_engines(self) -> None:
        """Open the data dir (exclusively), the store, models and index; repair the index if needed."""
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock_data_dir()
        self.db.start()
        self.embedder.start()
        self.analyzer.start()
        self.index.start()
        self.llm.start()
        self.reconcile_index()
        self.metrics.set_job_counts_source(self.queue.counts)
        self.metrics.set_index_stats_source(self._index_stats)

    async def start(self, *, workers: bool = True) -> None:
        """Start engines (in a thread) and the in-process job workers."""
        await anyio.to_thread.run_sync(self.start_engines)
        if workers:
            await anyio.to_thread.run_sync(self.parser.start)
            self.worker = self._build_worker()
            await self.worker.start(reclaim_all=True)
        self.ready = True

    async def stop(self) -> None:
        """Stop workers, persist the index, close everything."""
        self.ready = False
        if self.worker is not None:
            await self.worker.stop()
        await anyio.to_thread.run_sync(self.stop_engines)

    def stop_engines(self) -> None:
        """Close engines in reverse order of start."""
        self.parser.close()
        self.llm.close()
        with self.index_lock:
            self.index.close()
        self.db.close()
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def reconcile_index(self) -> None:
        """Make the index hold exactly the chunks the store serves (after a crash or damage)."""
        with self.index_lock:
            for collection in self.store.list_collections():
                served = self.chunks.served_keys(collection.name)
                indexed = self.index.keys(collection.name)
                missing, extra = served - indexed, indexed - served
                if missing or extra:
                    log.info(
                        "repairing index from the store",
                        extra={"collection": collection.name, "missing": len(missing), "extra": len(extra)},
                    )
                    self.index.remove(collection.name, sorted(extra))
                    entries = self.chunks.index_entries(missing, self.embedder.dimension)
                    while batch := list(itertools.islice(entries, 5000)):  # bounded memory at any size
                        self.index.add(collection.name, batch)
                        self.index.commit()
                    self.index.commit()

    def notify_workers(self) -> None:
        """Tell idle workers that jobs were enqueued."""
        if self.worker is not None:
            self.worker.notify()

    def _build_worker(self) -> Worker:
        pipeline = IngestPipeline(
            store=self.store,
            chunk_store=self.chunks,
            index=self.index,
            index_lock=self.index_lock,
            blobs=self.blobs,
            parser=self.parser,
            chunker=Chunker(
                self.embedder.count_tokens,
                max_tokens=self.settings.ingest.chunk_tokens,
                overlap_tokens=self.settings.ingest.chunk_overlap_tokens,
            ),
            keyword_chunker=Chunker(
                self.embedder.count_tokens,
                max_tokens=self.settings.ingest.keyword_chunk_tokens,
                overlap_tokens=self.settings.ingest.chunk_overlap_tokens,
            ),
            analyzer=self.analyzer,
            embedder=self.embedder,
            limits=parse_limits(self.settings),
            metrics=self.metrics,
            group_chunks=self.settings.ingest.group_chunks,
        )
        documents = DocumentJobs(
            store=self.store,
            chunk_store=self.chunks,
            queue=self.queue,
            index=self.index,
            index_lock=self.index_lock,
            blobs=self.blobs,
            pipeline=pipeline,
        )
        callbacks = Callbacks(
            queue=self.queue,
            secret=load_secret(self.settings),
            timeout_s=self.settings.callbacks.timeout_s,
            max_attempts=self.settings.callbacks.max_attempts,
            on_enqueued=self.notify_workers,
        )
        handlers = {
            **documents.handlers(),
            **ServiceJobs(self.services).handlers(),
            **callbacks.handlers(),
        }

        async def on_finished(job: Job, status: JobStatus, error: Exception | None) -> None:
            await documents.on_finished(job, status, error)
            await callbacks.on_finished(job, status, error)

        jobs = self.settings.jobs
        lanes = [
            Lane(f"ingest-{n}", (JobKind.INGEST,), batch=jobs.ingest_batch) for n in range(jobs.ingest_lanes)
        ]
        lanes.append(Lane("maintenance", (JobKind.DELETE,), batch=8))
        lanes += [Lane(f"services-{n}", (JobKind.SERVICE_RUN,)) for n in range(self.settings.services.lanes)]
        lanes.append(Lane("callbacks", (JobKind.CALLBACK,), batch=8))
        return Worker(self.queue, handlers, lanes, self.settings.jobs, self.metrics, on_finished)

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
