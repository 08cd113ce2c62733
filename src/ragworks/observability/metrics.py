"""Prometheus metrics of one app instance, on its own registry, rendered for ``GET /metrics``."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from ragworks.observability.model_calls import ModelCallMetrics

logger = logging.getLogger(__name__)

STAGES = ("parse", "chunk", "analyze", "embed", "index", "activate")

# Route label for requests no route matched: keeps scanners' random paths out of the label set.
UNMATCHED_ROUTE = "unmatched"

# Job statuses that still wait for a worker (``failed`` = an attempt failed, retry pending).
_WAITING_STATUSES = frozenset({"queued", "failed"})

# Outcomes after which a job runs no more (``JobStatus.finished``).
_FINISHED_STATUSES = frozenset({"succeeded", "dead", "cancelled"})

# Ingest stages range from milliseconds (chunking a note) to minutes (embedding a big PDF).
_STAGE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)

# Service calls range from a few milliseconds (retrieve, embed) to minutes (summarizing a long PDF).
_SERVICE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

JobCountsSource = Callable[[], Mapping[tuple[str, str], int]]

# ``fn(kinds) -> {kind: earliest next_run_at of its waiting jobs}`` (``JobAdmin.oldest_waiting``).
OldestWaitingSource = Callable[[Sequence[str]], Mapping[str, float]]


class WorkerBeat(Protocol):
    """A worker process's last heartbeat, as the workers registry reports it (``WorkerInfo``)."""

    @property
    def owner(self) -> str: ...

    @property
    def role(self) -> str: ...

    @property
    def last_seen(self) -> float: ...


WorkerBeatsSource = Callable[[], Iterable[WorkerBeat]]


@dataclass(frozen=True)
class IndexStats:
    """What the index reports at scrape time: bytes on disk and chunks per collection."""

    size_bytes: int
    chunks: Mapping[str, int] = field(default_factory=dict)


IndexStatsSource = Callable[[], IndexStats]


class _CallbackCollector:
    """Gauges computed at scrape time from a callback; a failing callback yields no samples."""

    def __init__(
        self,
        name: str,
        build: Callable[[], Iterable[Metric]],
        empty: Callable[[], Iterable[Metric]],
        on_error: Callable[[str], None],
    ) -> None:
        self.name = name
        self._build = build
        self._empty = empty
        self._on_error = on_error

    def describe(self) -> Iterable[Metric]:
        # Lets the registry check names at registration without calling the callback.
        return self._empty()

    def collect(self) -> Iterable[Metric]:
        try:
            # Materialised here so an error raised while iterating is caught too.
            return list(self._build())
        except Exception:
            # A broken data source must not take the whole scrape (and the HTTP metrics) down with it.
            logger.warning("metrics source %s failed; its gauges are skipped", self.name, exc_info=True)
            self._on_error(self.name)
            return []


class Metrics:
    """All metrics of one app instance; several instances in one process do not collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        GCCollector(registry=self.registry)

        self.http_requests_total = Counter(
            "http_requests_total",
            "HTTP requests handled, by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_request_duration_seconds = Histogram(
            "http_request_duration_seconds",
            "Time from request start to the end of the response body, by method and route template.",
            ["method", "route"],
            registry=self.registry,
        )
        # Not ``jobs_total``: a counter's family name drops ``_total`` and would clash with the
        # ``jobs`` gauge below (the registry refuses it; OpenMetrics forbids it).
        self.job_attempts_total = Counter(
            "job_attempts_total",
            "Job attempts finished, by kind and outcome status.",
            ["kind", "status"],
            registry=self.registry,
        )
        self.job_retries_total = Counter(
            "ragworks_job_retries_total",
            "Job attempts that failed and scheduled another attempt (retries), by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.jobs_finished_total = Counter(
            "ragworks_jobs_finished_total",
            "Jobs that reached a final status, by kind and outcome (succeeded, dead, cancelled).",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.ingest_stage_duration_seconds = Histogram(
            "ingest_stage_duration_seconds",
            "Time spent in one ingest stage of one document.",
            ["stage"],
            buckets=_STAGE_BUCKETS,
            registry=self.registry,
        )
        self.service_calls_total = Counter(
            "service_calls_total",
            "AI service calls, by service, mode (sync, stream, background, nested) and outcome "
            "(ok or an error code).",
            ["service", "mode", "outcome"],
            registry=self.registry,
        )
        self.service_duration_seconds = Histogram(
            "service_duration_seconds",
            "Time one AI service call took, by service and mode.",
            ["service", "mode"],
            buckets=_SERVICE_BUCKETS,
            registry=self.registry,
        )
        self.metrics_source_errors_total = Counter(
            "metrics_source_errors_total",
            "Scrape-time metric callbacks that raised, by source.",
            ["source"],
            registry=self.registry,
        )

        self.models = ModelCallMetrics(self.registry)

        self._job_counts: JobCountsSource | None = None
        self._oldest_waiting: OldestWaitingSource | None = None
        self._index_stats: IndexStatsSource | None = None
        self._worker_beats: WorkerBeatsSource | None = None
        self.registry.register(
            _CallbackCollector("jobs", self._collect_jobs, _job_families, self._source_failed)
        )
        self.registry.register(
            _CallbackCollector("index", self._collect_index, _index_families, self._source_failed)
        )
        self.registry.register(
            _CallbackCollector("workers", self._collect_workers, _worker_families, self._source_failed)
        )

    # --- recording -------------------------------------------------------------------------------

    def observe_request(self, method: str, route: str, status: int, duration_s: float) -> None:
        """Count one HTTP request and record its duration under the route template."""
        self.http_requests_total.labels(method, route, str(status)).inc()
        self.http_request_duration_seconds.labels(method, route).observe(duration_s)

    def observe_job(self, kind: str, status: str) -> None:
        """Count one finished job attempt with its outcome status: a ``failed`` one is a retry to come,
        a final status (succeeded, dead, cancelled) a finished job."""
        self.job_attempts_total.labels(kind, status).inc()
        if status == "failed":
            self.job_retries_total.labels(kind).inc()
        elif status in _FINISHED_STATUSES:
            self.jobs_finished_total.labels(kind, status).inc()

    def observe_service(self, service: str, mode: str, outcome: str, duration_s: float) -> None:
        """Count one AI service call and record its duration."""
        self.service_calls_total.labels(service, mode, outcome).inc()
        self.service_duration_seconds.labels(service, mode).observe(duration_s)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the enclosed block as one ingest stage (recorded also when it raises)."""
        if name not in STAGES:
            raise ValueError(f"unknown ingest stage {name!r}; expected one of {', '.join(STAGES)}")
        start = time.perf_counter()
        try:
            yield
        finally:
            self.ingest_stage_duration_seconds.labels(name).observe(time.perf_counter() - start)

    # --- scrape-time sources ---------------------------------------------------------------------

    def set_job_counts_source(self, fn: JobCountsSource) -> None:
        """Use ``fn() -> {(kind, status): count}`` to fill ``jobs`` and ``job_queue_depth`` at scrape."""
        self._job_counts = fn

    def set_oldest_waiting_source(self, fn: OldestWaitingSource) -> None:
        """Use ``fn`` to fill ``ragworks_job_oldest_waiting_age_seconds`` for the kinds that have
        waiting jobs (read with the job counts, so it needs ``set_job_counts_source`` too)."""
        self._oldest_waiting = fn

    def set_worker_beats_source(self, fn: WorkerBeatsSource) -> None:
        """Use ``fn() -> [WorkerBeat]`` to fill ``ragworks_worker_last_seen_timestamp_seconds``."""
        self._worker_beats = fn

    def set_index_stats_source(self, fn: IndexStatsSource) -> None:
        """Use ``fn() -> IndexStats`` to fill ``index_size_bytes`` and ``index_chunks`` at scrape."""
        self._index_stats = fn

    def render(self) -> tuple[bytes, str]:
        """The exposition body and its content type, for ``GET /metrics``."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    # --- internals -------------------------------------------------------------------------------

    def _source_failed(self, name: str) -> None:
        self.metrics_source_errors_total.labels(name).inc()

    def _collect_jobs(self) -> Iterable[Metric]:
        if self._job_counts is None:
            return ()
        counts = self._job_counts()
        jobs, depth, age = _job_families()
        for (kind, status), n in sorted(counts.items()):
            jobs.add_metric([kind, status], n)
        depth.add_metric([], sum(n for (_, status), n in counts.items() if status in _WAITING_STATUSES))
        if self._oldest_waiting is None:
            return jobs, depth
        waiting = sorted({kind for (kind, status), n in counts.items() if status in _WAITING_STATUSES and n})
        oldest = self._oldest_waiting(waiting) if waiting else {}
        now = time.time()
        for kind in sorted({kind for kind, _ in counts}):
            # a retry scheduled for later is not late yet: the age counts from when a job became due
            since = oldest.get(kind, now)
            age.add_metric([kind], max(0.0, now - since))
        return jobs, depth, age

    def _collect_workers(self) -> Iterable[Metric]:
        if self._worker_beats is None:
            return ()
        (last_seen,) = _worker_families()
        for beat in sorted(self._worker_beats(), key=lambda b: b.owner):
            last_seen.add_metric([beat.owner, beat.role], beat.last_seen)
        return (last_seen,)

    def _collect_index(self) -> Iterable[Metric]:
        if self._index_stats is None:
            return ()
        stats = self._index_stats()
        size, chunks = _index_families()
        size.add_metric([], stats.size_bytes)
        for collection, n in sorted(stats.chunks.items()):
            chunks.add_metric([collection], n)
        return size, chunks


def _job_families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
    return (
        GaugeMetricFamily("jobs", "Jobs currently stored, by kind and status.", labels=["kind", "status"]),
        GaugeMetricFamily("job_queue_depth", "Jobs waiting for a worker (queued, or failed awaiting retry)."),
        GaugeMetricFamily(
            "ragworks_job_oldest_waiting_age_seconds",
            "Seconds the longest-waiting due job of each kind (queued, or failed and due for its retry) "
            "has waited for a worker; 0 when none is due.",
            labels=["kind"],
        ),
    )


def _worker_families() -> tuple[GaugeMetricFamily]:
    return (
        GaugeMetricFamily(
            "ragworks_worker_last_seen_timestamp_seconds",
            "Unix time of each running worker process's last heartbeat, by owner and role.",
            labels=["owner", "role"],
        ),
    )


def _index_families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
    return (
        GaugeMetricFamily("index_size_bytes", "Bytes the search indexes take on disk."),
        GaugeMetricFamily("index_chunks", "Chunks indexed, by collection.", labels=["collection"]),
    )
