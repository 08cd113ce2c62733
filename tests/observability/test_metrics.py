"""Metrics: own registry per instance, scrape-time callbacks, stage timer, job counters."""

from __future__ import annotations

import logging

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ragworks.observability.metrics import IndexStats, Metrics


def _sample_names(body: bytes) -> set[str]:
    return {s.name for family in text_string_to_metric_families(body.decode()) for s in family.samples}


def test_two_instances_coexist_with_separate_counts() -> None:
    first, second = Metrics(), Metrics()
    first.observe_request("GET", "/health", 200, 0.01)
    labels = {"method": "GET", "route": "/health", "status": "200"}
    assert first.registry.get_sample_value("http_requests_total", labels) == 1
    assert second.registry.get_sample_value("http_requests_total", labels) is None


def test_render_returns_prometheus_text() -> None:
    metrics = Metrics()
    metrics.observe_request("GET", "/health", 200, 0.01)
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain")
    assert "http_requests_total" in _sample_names(body)


def test_stage_timer_records_one_observation() -> None:
    metrics = Metrics()
    with metrics.stage("parse"):
        pass
    count = metrics.registry.get_sample_value("ingest_stage_duration_seconds_count", {"stage": "parse"})
    assert count == 1


def test_stage_timer_records_when_the_stage_raises() -> None:
    metrics = Metrics()
    with pytest.raises(RuntimeError), metrics.stage("embed"):
        raise RuntimeError("model failed")
    count = metrics.registry.get_sample_value("ingest_stage_duration_seconds_count", {"stage": "embed"})
    assert count == 1


def test_unknown_stage_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown ingest stage"), Metrics().stage("bogus"):
        pass


def test_finished_job_attempts_are_counted() -> None:
    metrics = Metrics()
    metrics.observe_job("document.ingest", "succeeded")
    labels = {"kind": "document.ingest", "status": "succeeded"}
    assert metrics.registry.get_sample_value("job_attempts_total", labels) == 1


def test_job_gauges_come_from_the_source_at_scrape_time() -> None:
    metrics = Metrics()
    counts = {("document.ingest", "queued"): 3}
    metrics.set_job_counts_source(lambda: counts)
    counts[("document.ingest", "running")] = 2
    labels = {"kind": "document.ingest", "status": "running"}
    assert metrics.registry.get_sample_value("jobs", labels) == 2


def test_queue_depth_counts_queued_and_failed_waiting_jobs() -> None:
    metrics = Metrics()
    metrics.set_job_counts_source(
        lambda: {
            ("document.ingest", "queued"): 3,
            ("document.ingest", "failed"): 2,
            ("document.ingest", "running"): 5,
            ("document.delete", "queued"): 1,
            ("document.ingest", "dead"): 7,
        }
    )
    assert metrics.registry.get_sample_value("job_queue_depth") == 6


def test_index_gauges_come_from_the_source() -> None:
    metrics = Metrics()
    metrics.set_index_stats_source(lambda: IndexStats(size_bytes=4096, chunks={"docs": 10, "faq": 3}))
    assert metrics.registry.get_sample_value("index_size_bytes") == 4096
    assert metrics.registry.get_sample_value("index_chunks", {"collection": "faq"}) == 3


def test_callback_gauges_absent_without_a_source() -> None:
    body, _ = Metrics().render()
    assert not {"jobs", "job_queue_depth", "index_size_bytes"} & _sample_names(body)


def test_failing_callback_does_not_break_render(caplog: pytest.LogCaptureFixture) -> None:
    metrics = Metrics()
    metrics.observe_request("GET", "/health", 200, 0.01)

    def broken() -> IndexStats:
        raise OSError("index directory gone")

    metrics.set_index_stats_source(broken)
    with caplog.at_level(logging.WARNING, logger="ragworks.observability.metrics"):
        body, _ = metrics.render()
    names = _sample_names(body)
    assert "http_requests_total" in names
    assert "index_size_bytes" not in names
    assert "metrics source index failed" in caplog.text


def test_failing_callback_is_counted() -> None:
    metrics = Metrics()

    def broken() -> dict[tuple[str, str], int]:
        raise RuntimeError("database locked")

    metrics.set_job_counts_source(broken)
    metrics.render()
    assert metrics.registry.get_sample_value("metrics_source_errors_total", {"source": "jobs"}) == 1
