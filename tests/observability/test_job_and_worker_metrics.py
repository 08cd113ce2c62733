"""Job retries and outcomes, the oldest waiting job's age, worker heartbeats, and the worker's port."""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from ragworks.config import Settings
from ragworks.observability.metrics import Metrics
from ragworks.roles.worker import serve_worker_metrics


@dataclass(frozen=True)
class Beat:
    owner: str
    role: str
    last_seen: float


def test_a_failed_attempt_counts_a_retry_and_a_final_one_a_finished_job() -> None:
    metrics = Metrics()
    for status in ("failed", "failed", "succeeded", "dead", "cancelled"):
        metrics.observe_job("document.ingest", status)

    value = metrics.registry.get_sample_value
    assert value("ragworks_job_retries_total", {"kind": "document.ingest"}) == 2
    for outcome in ("succeeded", "dead", "cancelled"):
        labels = {"kind": "document.ingest", "outcome": outcome}
        assert value("ragworks_jobs_finished_total", labels) == 1
    assert value("ragworks_jobs_finished_total", {"kind": "document.ingest", "outcome": "failed"}) is None


def test_oldest_waiting_age_is_read_for_kinds_with_waiting_jobs_only() -> None:
    metrics = Metrics()
    asked: list[Sequence[str]] = []
    now = time.time()

    def oldest(kinds: Sequence[str]) -> dict[str, float]:
        asked.append(kinds)
        return {"document.ingest": now - 120, "service.run": now + 600}

    metrics.set_job_counts_source(
        lambda: {
            ("document.ingest", "queued"): 3,
            ("service.run", "failed"): 1,
            ("document.delete", "succeeded"): 4,
        }
    )
    metrics.set_oldest_waiting_source(oldest)

    def age(kind: str) -> float | None:
        return metrics.registry.get_sample_value("ragworks_job_oldest_waiting_age_seconds", {"kind": kind})

    ingest_age = age("document.ingest")
    assert ingest_age is not None and 120 <= ingest_age < 180
    assert age("service.run") == 0  # its retry is not due yet
    assert age("document.delete") == 0  # nothing waits
    assert {tuple(kinds) for kinds in asked} == {("document.ingest", "service.run")}  # one per scrape


def test_worker_heartbeats_become_timestamps_by_owner_and_role() -> None:
    metrics = Metrics()
    metrics.set_worker_beats_source(lambda: [Beat("host-1:42:ab", "worker", 1_700_000_000.5)])

    labels = {"owner": "host-1:42:ab", "role": "worker"}
    assert metrics.registry.get_sample_value("ragworks_worker_last_seen_timestamp_seconds", labels) == (
        1_700_000_000.5
    )


def test_a_failing_worker_source_is_counted_and_skipped() -> None:
    metrics = Metrics()

    def broken() -> list[Beat]:
        raise RuntimeError("database locked")

    metrics.set_worker_beats_source(broken)
    body, _ = metrics.render()

    assert b"ragworks_worker_last_seen_timestamp_seconds{" not in body
    assert metrics.registry.get_sample_value("metrics_source_errors_total", {"source": "workers"}) == 1


def test_worker_metrics_port_is_off_by_default() -> None:
    assert serve_worker_metrics(Settings(), Metrics().registry) is None


def test_worker_metrics_port_serves_the_registry() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    metrics = Metrics()
    metrics.observe_job("document.ingest", "succeeded")
    settings = Settings.model_validate({"jobs": {"metrics_port": port}})

    server = serve_worker_metrics(settings, metrics.registry)
    assert server is not None
    try:
        body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    finally:
        server.shutdown()
        server.server_close()

    assert 'ragworks_jobs_finished_total{kind="document.ingest",outcome="succeeded"} 1.0' in body
