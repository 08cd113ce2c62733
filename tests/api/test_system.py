"""Liveness, readiness, metrics and the error shape."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_health_and_ready(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["embedder"] == "all-MiniLM-L6-v2"


def test_metrics_expose_http_and_jobs(client: TestClient) -> None:
    client.get("/health")
    body = client.get("/metrics").text
    assert 'http_requests_total{method="GET",route="/health",status="200"}' in body
    assert "job_queue_depth" in body
    assert "index_size_bytes" in body


def test_unknown_route_uses_the_error_shape(client: TestClient) -> None:
    response = client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_validation_error_uses_the_error_shape(client: TestClient) -> None:
    response = client.post("/v1/retrieve", json={"query": ""})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


def test_request_id_is_echoed(client: TestClient) -> None:
    response = client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"
