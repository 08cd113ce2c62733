"""GET /v1/events over a real SQLite event log (the router mounted on its own app, without models)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from ragworks.api.routes import events
from ragworks.domain import JobKind
from ragworks.engines.queue.sql import SqlJobQueue
from ragworks.engines.queue.sql_events import SqlEventLog
from ragworks.engines.store.sql import SqlDatabase


def client_over(db: SqlDatabase) -> TestClient:
    app = FastAPI()
    app.include_router(events.router)
    app.dependency_overrides[events.get_event_log] = lambda: SqlEventLog(db)
    return TestClient(app)


def ingest_and_complete(queue: SqlJobQueue, collection: str) -> None:
    queue.enqueue(JobKind.INGEST, {"version": 1}, collection=collection, document_id="d")
    [job] = queue.lease("w", [JobKind.INGEST], 1, 60)
    queue.complete("w", job.id, {"document_id": "d", "version": 1, "chunks": 1})


def test_events_are_listed_newest_first_and_filtered(db: SqlDatabase, queue: SqlJobQueue) -> None:
    ingest_and_complete(queue, "a")
    ingest_and_complete(queue, "b")

    body = client_over(db).get("/v1/events", params={"kind": "document.indexed"}).json()

    assert [e["collection"] for e in body["events"]] == ["b", "a"]
    assert body["events"][0]["data"]["chunks"] == 1
    assert body["next_after"] is None


def test_a_reader_pages_after_its_cursor(db: SqlDatabase, queue: SqlJobQueue) -> None:
    ingest_and_complete(queue, "a")
    client = client_over(db)

    first = client.get("/v1/events", params={"after": 0, "limit": 1}).json()
    second = client.get("/v1/events", params={"after": first["next_after"], "limit": 1}).json()

    assert [e["kind"] for e in first["events"] + second["events"]] == ["job.succeeded", "document.indexed"]
    assert first["next_after"] == first["events"][0]["event_id"]
