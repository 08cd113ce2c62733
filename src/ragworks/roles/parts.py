"""The parts process roles are composed of, each built from the provider tables in the settings.

- ``Core`` (every role): the store, chunk records and job queue of one database, the blob store and
  the metrics registry.
- ``Search`` (roles that search or run services): embedder, index, analyzer, retriever, LLM and the
  service registry with its runner.
- ``build_worker`` (roles that run jobs): the isolated parser pool, the ingest pipeline and the job
  worker with its lanes.

Builders are cheap; heavy resources load in each part's ``start()``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import anyio

from ragworks.config import Settings
from ragworks.domain import Job, JobKind, JobStatus
from ragworks.engines.blob.base import BlobStore
from ragworks.engines.blob.local import LocalBlobStore
from ragworks.engines.embed.base import Embedder
from ragworks.engines.embed.providers import build_embedder
from ragworks.engines.index.base import SearchIndex
from ragworks.engines.index.providers import build_index
from ragworks.engines.llm.base import LLM
from ragworks.engines.llm.providers import build_llm
from ragworks.engines.queue.base import EventLog
from ragworks.engines.store.providers import StoreEngines, build_store
from ragworks.ingest.analysis import Analyzer
from ragworks.ingest.chunking import Chunker
from ragworks.ingest.parsers.base import ParseLimits
from ragworks.ingest.parsers.isolation import IsolatedParser
from ragworks.ingest.pipeline import IngestPipeline
from ragworks.jobs.calibration import CalibrationJobs
from ragworks.jobs.callbacks import Callbacks, load_secret
from ragworks.jobs.handlers import DocumentJobs
from ragworks.jobs.service_jobs import ServiceJobs
from ragworks.jobs.stream_publish import StreamDeliveries
from ragworks.jobs.worker import Chore, Lane, Worker
from ragworks.observability.metrics import Metrics
from ragworks.observability.model_calls import MeteredEmbedder, MeteredLLM
from ragworks.services.calibration import Calibrator
from ragworks.services.registry import ServiceRegistry, load_registry
from ragworks.services.retrieve import Retriever
from ragworks.services.runner import ServiceRunner


def parse_limits(settings: Settings) -> ParseLimits:
    """Parser safety limits from the settings."""
    ingest = settings.ingest
    return ParseLimits(
        max_pages=ingest.max_pages,
        max_uncompressed_bytes=ingest.max_uncompressed_bytes,
        max_compression_ratio=ingest.max_compression_ratio,
        max_text_chars=ingest.max_text_chars,
        timeout_s=ingest.parse_timeout_s,
    )


# Workers unseen for longer drop out of the metrics: a crashed one stays visible (silent) this long.
WORKER_SHOWN_FOR_S = 3600.0


@dataclass
class Core:
    """What every role uses: one database's adapters, the blob store and the metrics."""

    settings: Settings
    stores: StoreEngines
    blobs: BlobStore
    metrics: Metrics = field(default_factory=Metrics)

    def start(self) -> None:
        """Connect to (and migrate) the database."""
        self.stores.database.start()
        self.metrics.set_job_counts_source(self.stores.jobs.counts)
        self.metrics.set_oldest_waiting_source(self.stores.jobs.oldest_waiting)
        self.metrics.set_worker_beats_source(lambda: self.stores.workers.live(WORKER_SHOWN_FOR_S))

    def stop(self) -> None:
        """Stop wake-ups and close the database."""
        self.stores.queue.close()
        self.stores.database.close()


def build_core(settings: Settings) -> Core:
    """The core parts the settings name."""
    return Core(settings, build_store(settings), LocalBlobStore(settings.data_dir / "blobs"))


@dataclass
class Search:
    """What searching and running services needs."""

    embedder: Embedder
    index: SearchIndex
    analyzer: Analyzer
    retriever: Retriever
    llm: LLM
    registry: ServiceRegistry
    services: ServiceRunner
    calibrator: Calibrator  # chooses each collection's hybrid fusion
    index_lock: threading.Lock = field(default_factory=threading.Lock)  # one writer at a time

    def start(self) -> None:
        """Load the models and open the index."""
        self.embedder.start()
        self.analyzer.start()
        self.index.start()
        self.llm.start()

    def stop(self) -> None:
        """Close the LLM and the index."""
        self.llm.close()
        with self.index_lock:
            self.index.close()


def build_search(core: Core) -> Search:
    """The search parts the settings name, over ``core``'s stores."""
    s = core.settings
    embedder = MeteredEmbedder(build_embedder(s), core.metrics.models)  # every model call counted
    index = build_index(s, embedder.dimension)
    analyzer = Analyzer()
    retriever = Retriever(
        store=core.stores.store,
        chunk_store=core.stores.chunks,
        index=index,
        analyzer=analyzer,
        embedder=embedder,
        settings=s.search,
    )
    llm = MeteredLLM(build_llm(s.llm), core.metrics.models)
    registry = load_registry(s.services)
    services = ServiceRunner(
        registry=registry,
        settings=s,
        retriever=retriever,
        llm=llm,
        embedder=embedder,
        analyzer=analyzer,
        store=core.stores.store,
        chunks=core.stores.chunks,
        metrics=core.metrics,
    )
    calibrator = Calibrator(
        store=core.stores.store,
        chunk_store=core.stores.chunks,
        index=index,
        analyzer=analyzer,
        embedder=embedder,
        settings=s.search,
    )
    return Search(embedder, index, analyzer, retriever, llm, registry, services, calibrator)


def build_parser(settings: Settings) -> IsolatedParser:
    """The pool of parser processes (started by the caller)."""
    ingest = settings.ingest
    return IsolatedParser(
        parse_limits(settings), workers=ingest.parser_processes, max_memory_bytes=ingest.parser_memory_bytes
    )


def build_worker(core: Core, search: Search, parser: IsolatedParser) -> Worker:
    """The job worker: ingest, maintenance, service, callback and stream lanes with their handlers, and
    the purge of events older than ``events.retention_s``."""
    settings, stores = core.settings, core.stores
    pipeline = IngestPipeline(
        store=stores.store,
        chunk_store=stores.chunks,
        index=search.index,
        index_lock=search.index_lock,
        blobs=core.blobs,
        parser=parser,
        chunker=_chunker(search.embedder, settings, settings.ingest.chunk_tokens),
        keyword_chunker=_chunker(search.embedder, settings, settings.ingest.keyword_chunk_tokens),
        analyzer=search.analyzer,
        embedder=search.embedder,
        limits=parse_limits(settings),
        metrics=core.metrics,
        group_chunks=settings.ingest.group_chunks,
    )
    documents = DocumentJobs(
        store=stores.store,
        chunk_store=stores.chunks,
        queue=stores.queue,
        index=search.index,
        index_lock=search.index_lock,
        blobs=core.blobs,
        pipeline=pipeline,
    )
    # callbacks, webhooks and stream messages are enqueued by the queue with each outcome (the outbox)
    callbacks = Callbacks(
        secret=load_secret(settings),
        timeout_s=settings.callbacks.timeout_s,
        max_attempts=settings.callbacks.max_attempts,
    )
    streams = StreamDeliveries()
    calibration = CalibrationJobs(stores.store, stores.queue, search.calibrator, settings.search)
    handlers = {
        **documents.handlers(),
        **calibration.handlers(),
        **ServiceJobs(search.services).handlers(),
        **callbacks.handlers(),
        **streams.handlers(),
    }

    async def on_finished(job: Job, status: JobStatus, error: Exception | None) -> None:
        await documents.on_finished(job, status, error)

    jobs = settings.jobs
    lanes = [
        Lane(f"ingest-{n}", (JobKind.INGEST,), batch=jobs.ingest_batch) for n in range(jobs.ingest_lanes)
    ]
    lanes.append(Lane("maintenance", (JobKind.DELETE,), batch=8))
    lanes.append(Lane("calibration", (JobKind.CALIBRATE,)))  # minutes on a big collection: its own lane
    lanes += [Lane(f"services-{n}", (JobKind.SERVICE_RUN,)) for n in range(settings.services.lanes)]
    lanes.append(Lane("callbacks", (JobKind.CALLBACK,), batch=8))
    lanes.append(Lane("streams", (JobKind.STREAM_PUBLISH,), batch=32))
    purge = Chore("events-purge", EVENT_PURGE_EVERY_S, lambda: purge_events(stores.events, settings))
    return Worker(
        stores.queue,
        stores.jobs,
        handlers,
        lanes,
        jobs,
        core.metrics,
        on_finished,
        chores=[purge, calibration.chore()],
        on_stop=[streams.close],
        registry=stores.workers,
    )


EVENT_PURGE_EVERY_S = 600.0
EVENT_PURGE_BATCH = 5000  # rows per delete: each is a short transaction


async def purge_events(events: EventLog, settings: Settings) -> None:
    """Delete events older than ``events.retention_s``, a batch at a time."""
    before = time.time() - settings.events.retention_s
    while await anyio.to_thread.run_sync(events.purge_events, before, EVENT_PURGE_BATCH) == EVENT_PURGE_BATCH:
        pass


def _chunker(embedder: Embedder, settings: Settings, max_tokens: int) -> Chunker:
    return Chunker(
        embedder.count_tokens, max_tokens=max_tokens, overlap_tokens=settings.ingest.chunk_overlap_tokens
    )
