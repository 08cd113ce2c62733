"""End to end on a real app (SQLite, the real model): requests are logged, rolled up into the database
and reported by GET /v1/usage, a local service included with no rule of its own."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ragworks.app import create_app
from ragworks.config import JobSettings, LLMSettings, ServiceSettings, Settings, UsageSettings
from ragworks.engines.store.sql import SqlDatabase
from ragworks.engines.store.sql_usage import SqlUsageRollups
from ragworks.usage.report import UsageFilter

LOOKUP_SERVICE = """
from pydantic import BaseModel
from ragworks.services.base import Service, ServiceContext


class Input(BaseModel):
    query: str
    collections: list[str]


class Output(BaseModel):
    results: list[str]


async def run(data: Input, ctx: ServiceContext) -> Output:
    return Output(results=[] if data.query.startswith("nothing") else [data.query, data.query])


SERVICE = Service(name="lookup", summary="Finds the query twice", input=Input, output=Output, run=run)
"""


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("usage-app")


@pytest.fixture(scope="module")
def client(app_dir: Path) -> Iterator[TestClient]:
    """An app with a local service that is not built in, flushing its rollups every 0.1 s."""
    services = app_dir / "services"
    services.mkdir()
    (services / "lookup.py").write_text(LOOKUP_SERVICE)
    settings = Settings(
        data_dir=app_dir / "data",
        log_json=False,
        llm=LLMSettings(provider="extractive"),
        jobs=JobSettings(poll_interval_s=0.1),
        services=ServiceSettings(local_dir=services, entry_points=False),
        usage=UsageSettings(flush_interval_s=0.1),
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def _wait_for_report(client: TestClient, params: dict[str, Any], done: Any) -> dict[str, Any]:
    """GET /v1/usage until ``done(report)`` holds (the rollups are flushed every 0.1 s)."""
    deadline = time.monotonic() + 20
    while True:
        response = client.get("/v1/usage", params=params)
        assert response.status_code == 200, response.text
        report: dict[str, Any] = response.json()
        if done(report) or time.monotonic() > deadline:
            return report
        time.sleep(0.05)


def _group(report: dict[str, Any], key: str) -> dict[str, Any]:
    return next((g for g in report["groups"] if g["key"] == key), {"requests": 0})


def test_a_new_service_is_counted_with_its_collection_and_queries(client: TestClient) -> None:
    for query in ("Red Apples", "red   apples", "nothing here"):
        response = client.post("/v1/services/lookup", json={"query": query, "collections": ["fruit"]})
        assert response.status_code == 200, response.text
    assert client.post("/v1/services/lookup", json={"query": 1}).status_code == 422

    report = _wait_for_report(client, {"group_by": "service"}, lambda r: _group(r, "lookup")["requests"] >= 4)
    lookup = _group(report, "lookup")
    assert lookup["requests"] == 4
    assert lookup["errors_4xx"] == 1
    assert lookup["errors_5xx"] == 0
    assert lookup["error_rate"] == 0.25
    assert lookup["latency_ms"]["p50"] is not None

    by_collection = client.get("/v1/usage", params={"group_by": "collection", "service": "lookup"}).json()
    assert {g["key"]: g["requests"] for g in by_collection["groups"]} == {"fruit": 3, None: 1}

    queries = client.get("/v1/usage/queries", params={"collection": "fruit"}).json()["queries"]
    assert [(q["query"], q["count"], q["zero_results"]) for q in queries] == [
        ("red apples", 2, 0),
        ("nothing here", 1, 1),
    ]
    zero = client.get("/v1/usage/queries", params={"zero_results": "true"}).json()["queries"]
    assert [q["query"] for q in zero] == ["nothing here"]


def test_routes_are_counted_by_template_with_the_collection_of_the_path(client: TestClient) -> None:
    assert client.post("/v1/collections", json={"name": "shelf"}).status_code == 201
    assert client.get("/v1/collections/shelf").status_code == 200
    assert client.get("/v1/collections/absent").status_code == 404

    def counted(report: dict[str, Any]) -> bool:
        return _group(report, "GET /v1/collections/{name}")["requests"] >= 2

    report = _wait_for_report(client, {"group_by": "route"}, counted)
    route = _group(report, "GET /v1/collections/{name}")
    assert (route["requests"], route["errors_4xx"]) == (2, 1)
    by_collection = client.get(
        "/v1/usage", params={"group_by": "collection", "route": "/v1/collections/{name}"}
    ).json()
    assert {g["key"] for g in by_collection["groups"]} == {"shelf", "absent"}


def test_the_request_log_has_one_line_per_request(client: TestClient, app_dir: Path) -> None:
    response = client.post(
        "/v1/retrieve",
        json={"query": "anything", "collections": ["shelf"]},
        headers={"X-Request-ID": "log-1"},
    )
    assert response.status_code == 200, response.text
    log_path = app_dir / "data" / "logs" / "requests.jsonl"
    deadline = time.monotonic() + 20
    line: dict[str, Any] | None = None
    while line is None and time.monotonic() < deadline:
        lines = [json.loads(x) for x in log_path.read_text().splitlines()] if log_path.exists() else []
        line = next((x for x in lines if x["request_id"] == "log-1"), None)
        time.sleep(0.05)
    assert line is not None
    assert line["route"] == "/v1/retrieve"
    assert line["service"] == "retrieve"
    assert line["collections"] == ["shelf"]
    assert line["query"] == "anything"
    assert line["result_count"] == 0
    assert line["api_key"] is None
    assert line["status"] == 200 and line["method"] == "POST" and line["duration_ms"] > 0


def test_the_report_is_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/v1/usage" in paths and "/v1/usage/queries" in paths
    parameters = {p["name"] for p in paths["/v1/usage"]["get"]["parameters"]}
    assert {"from", "to", "group_by", "service", "collection", "api_key"} <= parameters


def test_a_range_that_ends_before_it_starts_is_a_400(client: TestClient) -> None:
    response = client.get("/v1/usage", params={"from": "2025-01-02T00:00:00Z", "to": "2025-01-01T00:00:00Z"})
    assert response.status_code == 400


def test_requests_are_flushed_to_the_database_at_shutdown(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        log_json=False,
        llm=LLMSettings(provider="extractive"),
        services=ServiceSettings(local_dir=tmp_path / "none", entry_points=False),
        usage=UsageSettings(flush_interval_s=3600),  # only the shutdown flush writes
    )
    with TestClient(create_app(settings)) as client:
        for _ in range(3):
            assert client.get("/v1/collections").status_code == 200
    db = SqlDatabase(settings.database_url)
    db.start()
    try:
        report = SqlUsageRollups(db).report("route", UsageFilter(time.time() - 3600, time.time() + 1))
    finally:
        db.close()
    assert {g.key: g.requests for g in report.groups} == {"GET /v1/collections": 3}
