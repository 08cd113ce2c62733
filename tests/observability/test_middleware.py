"""RequestContextMiddleware: request ids, access lines, ids in threads, HTTP metrics by route."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ragworks.observability.metrics import Metrics
from ragworks.observability.middleware import RequestContextMiddleware

LogLines = Callable[[], list[dict[str, Any]]]


def _requests(metrics: Metrics, method: str, route: str, status: str) -> float | None:
    return metrics.registry.get_sample_value(
        "http_requests_total", {"method": method, "route": route, "status": status}
    )


def test_request_id_is_generated_and_echoed(client: TestClient) -> None:
    response = client.get("/v1/jobs/j1")
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


def test_given_request_id_is_kept(client: TestClient) -> None:
    response = client.get("/v1/jobs/j1", headers={"X-Request-ID": "client.id-42_A"})
    assert response.headers["X-Request-ID"] == "client.id-42_A"


@pytest.mark.parametrize("bad_id", ["a" * 129, "has space", "semi;colon", "path/like", ""])
def test_invalid_request_id_is_replaced(client: TestClient, bad_id: str) -> None:
    response = client.get("/v1/jobs/j1", headers={"X-Request-ID": bad_id})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


def test_endpoint_log_line_carries_request_id(client: TestClient, json_logs: LogLines) -> None:
    client.get("/v1/jobs/j1", headers={"X-Request-ID": "rid-endpoint"})
    (line,) = [line for line in json_logs() if line["msg"] == "looking up job"]
    assert line["request_id"] == "rid-endpoint"
    assert line["job_id"] == "j1"


def test_log_from_anyio_worker_thread_carries_request_id(client: TestClient, json_logs: LogLines) -> None:
    client.get("/threaded", headers={"X-Request-ID": "rid-thread"})
    (line,) = [line for line in json_logs() if line["msg"] == "from worker thread"]
    assert line["request_id"] == "rid-thread"


def test_log_from_sync_route_carries_request_id(client: TestClient, json_logs: LogLines) -> None:
    client.get("/sync", headers={"X-Request-ID": "rid-sync"})
    (line,) = [line for line in json_logs() if line["msg"] == "from sync route"]
    assert line["request_id"] == "rid-sync"


def test_one_access_line_per_request(client: TestClient, json_logs: LogLines) -> None:
    client.get("/v1/jobs/j1", headers={"X-Request-ID": "rid-access"})
    (line,) = [line for line in json_logs() if line["logger"] == "ragworks.access"]
    assert line["level"] == "INFO"
    assert line["request_id"] == "rid-access"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/v1/jobs/j1", 200)
    assert line["duration_ms"] >= 0


def test_request_counted_under_route_template(client: TestClient, metrics: Metrics) -> None:
    client.get("/v1/jobs/j1")
    client.get("/v1/jobs/j2")
    assert _requests(metrics, "GET", "/v1/jobs/{job_id}", "200") == 2
    duration_count = metrics.registry.get_sample_value(
        "http_request_duration_seconds_count", {"method": "GET", "route": "/v1/jobs/{job_id}"}
    )
    assert duration_count == 2


def test_unknown_path_counted_as_unmatched(client: TestClient, metrics: Metrics) -> None:
    assert client.get("/no/such/path").status_code == 404
    assert _requests(metrics, "GET", "unmatched", "404") == 1


def test_unusual_method_label_is_bounded(client: TestClient, metrics: Metrics) -> None:
    client.request("FROBNICATE", "/v1/jobs/j1")
    assert _requests(metrics, "OTHER", "/v1/jobs/{job_id}", "405") == 1


def test_endpoint_exception_counted_as_500(client: TestClient, metrics: Metrics) -> None:
    assert client.get("/boom").status_code == 500
    assert _requests(metrics, "GET", "/boom", "500") == 1


def test_escaped_exception_logged_with_request_id(client: TestClient, json_logs: LogLines) -> None:
    client.get("/boom", headers={"X-Request-ID": "rid-boom"})
    (line,) = [line for line in json_logs() if line["logger"] == "ragworks.access"]
    assert (line["level"], line["status"], line["request_id"]) == ("ERROR", 500, "rid-boom")
    assert "RuntimeError: boom" in line["exc"]


def test_outermost_wrap_puts_request_id_on_500(metrics: Metrics, make_app: Callable[..., FastAPI]) -> None:
    app = RequestContextMiddleware(make_app(metrics, with_middleware=False), metrics)
    with TestClient(app, raise_server_exceptions=False) as outer_client:
        response = outer_client.get("/boom", headers={"X-Request-ID": "rid-outer"})
    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == "rid-outer"


def test_streaming_response_passes_through_with_request_id(client: TestClient) -> None:
    response = client.get("/stream", headers={"X-Request-ID": "rid-stream"})
    assert response.text == "abc"
    assert response.headers["X-Request-ID"] == "rid-stream"
