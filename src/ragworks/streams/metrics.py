"""Prometheus metrics of stream consumers, per source: processed, failed, dead-lettered, redelivered,
lag and back-pressure pauses."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge


@dataclass
class StreamMetrics:
    """The consumer's metrics on ``registry`` (a process's own, or the app's in the embedded server)."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.messages = Counter(
            "ragworks_stream_messages",
            "Stream messages handled, by source and outcome (created, updated, unchanged, "
            "metadata_updated, deleted, requested, dead_lettered).",
            ["source", "outcome"],
            registry=r,
        )
        self.failures = Counter(
            "ragworks_stream_failures",
            "Messages that could not be handled, by source and stage (decode, map, accept, service).",
            ["source", "stage"],
            registry=r,
        )
        self.redelivered = Counter(
            "ragworks_stream_redelivered",
            "Messages delivered more than once (a consumer died or failed before acknowledging).",
            ["source"],
            registry=r,
        )
        self.retries = Counter(
            "ragworks_stream_retries",
            "Batches left unacknowledged after a broker or store error, to be fetched again.",
            ["source"],
            registry=r,
        )
        self.lag = Gauge(
            "ragworks_stream_lag", "Messages the group has not been delivered yet.", ["source"], registry=r
        )
        self.paused = Gauge(
            "ragworks_stream_paused",
            "1 while consumption is paused because the ingest queue is deeper than its limit.",
            ["source"],
            registry=r,
        )

    def count(self, source: str, outcome: str, n: int = 1) -> None:
        """Add ``n`` messages with ``outcome``."""
        if n:
            self.messages.labels(source, outcome).inc(n)
