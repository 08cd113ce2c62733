"""Prometheus metrics of the model service, on the process's own registry (``GET /metrics``).

Batch sizes show whether concurrent callers share forward passes; queue wait and queue depth show
back-pressure before it turns into refusals; the token counter gives tokens/s with ``rate()``.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.process_collector import ProcessCollector

TEXT_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)
TOKEN_BUCKETS = (16, 64, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768)
WAIT_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ModelServiceMetrics:
    """The batcher's and the servers' metrics (names start with ``ragworks_model_``)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.batch_texts = Histogram(
            "ragworks_model_batch_texts",
            "Texts in one forward batch formed from queued requests.",
            ["kind"],
            buckets=TEXT_BUCKETS,
            registry=self.registry,
        )
        self.batch_tokens = Histogram(
            "ragworks_model_batch_tokens",
            "Model tokens (after truncation) in one forward batch.",
            ["kind"],
            buckets=TOKEN_BUCKETS,
            registry=self.registry,
        )
        self.queue_wait = Histogram(
            "ragworks_model_queue_wait_seconds",
            "Time a request waited in the queue before its batch started.",
            ["kind"],
            buckets=WAIT_BUCKETS,
            registry=self.registry,
        )
        self.queue_texts = Gauge(
            "ragworks_model_queue_texts",
            "Texts waiting in the queue (requests past max_queue_texts are refused).",
            registry=self.registry,
        )
        self.tokens = Counter(
            "ragworks_model_tokens",
            "Model tokens embedded (after truncation); rate() gives tokens per second.",
            ["kind"],
            registry=self.registry,
        )
        self.refused = Counter(
            "ragworks_model_refused_requests",
            "Requests refused because the queue was full (RESOURCE_EXHAUSTED / HTTP 429).",
            registry=self.registry,
        )
        self.dropped = Counter(
            "ragworks_model_dropped_requests",
            "Queued requests dropped before they were computed (deadline passed, or caller gone).",
            ["reason"],
            registry=self.registry,
        )
        self.request_duration = Histogram(
            "ragworks_model_request_seconds",
            "Time from a request's arrival at the batcher to its vectors.",
            ["kind"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )

    def render(self) -> tuple[bytes, str]:
        """The metrics in Prometheus' text format, and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
