"""Killing the model service mid-ingest: nothing is lost, searches stay honest.

A real ``ragworks serve`` embeds through a real ``ragworks model-serve`` (``embed.provider =
"remote"``). The model service is killed with SIGKILL while documents are being ingested: keyword
search keeps answering 200, vector and hybrid search answer 503 at once instead of hanging, ingest
jobs fail their try and retry without using up their attempts (an outage: the default
``jobs.max_attempts`` holds); once the service is back every document ends ``ready`` with each chunk
stored once.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers.model_serve_process import ModelServeProcess
from helpers.server import Server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DOCUMENTS = 160
COLLECTION = "tides"
FAST_503_S = 5.0


def _text(n: int) -> str:
    """A short document (one chunk): the test is about jobs and searches, not embedding speed."""
    topics = ["tides and the moon", "glaciers and valleys", "volcanoes and islands", "rivers and deltas"]
    topic = topics[n % len(topics)]
    return f"Document {n} is about {topic}. It explains how {topic} shape the coast over long spans of time."


def _wait_until(check: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _db(server: Server) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{server.data_dir / 'ragworks.db'}?mode=ro", uri=True, timeout=30)


def _query(server: Server, sql: str) -> list[tuple[Any, ...]]:
    with _db(server) as conn:
        return list(conn.execute(sql))


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[ModelServeProcess, Server]]:
    service = ModelServeProcess(tmp_path / "model-data")
    service.start()
    server = Server(
        tmp_path / "data",
        env={
            "RAGWORKS_EMBED__PROVIDER": "remote",
            "RAGWORKS_EMBED__URL": service.target,
            "RAGWORKS_EMBED__TIMEOUT_S": "60",
            "RAGWORKS_EMBED__QUERY_TIMEOUT_S": "2",
            "RAGWORKS_JOBS__INGEST_BATCH": "8",  # many small batches: the kill lands mid-ingest
            "RAGWORKS_JOBS__BACKOFF_BASE_S": "0.5",
            "RAGWORKS_JOBS__BACKOFF_MAX_S": "2",
        },
    )
    server.start()
    yield service, server
    server.stop()
    service.stop()


def _retrieve(server: Server, mode: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    body = {"query": "how tides follow the moon", "collections": [COLLECTION], "mode": mode}
    response = httpx.post(f"{server.url}/v1/retrieve", json=body, timeout=30)
    return response, time.monotonic() - started


def test_killing_the_model_service_mid_ingest_loses_nothing(
    stack: tuple[ModelServeProcess, Server],
) -> None:
    service, server = stack
    with httpx.Client(base_url=server.url, timeout=30) as client:
        _ingest_kill_restart(client, service, server)


def _ingest_kill_restart(client: httpx.Client, service: ModelServeProcess, server: Server) -> None:
    assert client.post("/v1/collections", json={"name": COLLECTION}).status_code == 201
    documents = [{"id": f"doc-{n}", "text": _text(n)} for n in range(DOCUMENTS)]
    assert (
        client.post(f"/v1/collections/{COLLECTION}/documents", json={"documents": documents}).status_code
        == 202
    )
    ready_sql = "SELECT count(*) FROM documents WHERE status = 'ready'"

    ready_at_kill = _wait_until(lambda: _query(server, ready_sql)[0][0], 120, "the first ready documents")
    service.kill()
    killed_at = time.monotonic()
    assert ready_at_kill < DOCUMENTS, "everything was ingested before the kill: make the batch larger"

    keyword, keyword_s = _retrieve(server, "keyword")
    hybrid, hybrid_s = _retrieve(server, "hybrid")
    vector, vector_s = _retrieve(server, "vector")
    assert keyword.status_code == 200 and keyword.json()["results"]
    assert hybrid.status_code == 503 and hybrid.json()["error"]["code"] == "embedder_unavailable"
    assert vector.status_code == 503
    assert max(hybrid_s, vector_s) < FAST_503_S

    retried_sql = (
        "SELECT count(*) FROM jobs WHERE kind = 'document.ingest' AND json_array_length(history) > 0"
    )
    _wait_until(lambda: _query(server, retried_sql)[0][0], 60, "an ingest job to fail and be retried")
    service.start()  # the same ports: the server's channel reconnects on its own
    restarted_at = time.monotonic()
    down_s = restarted_at - killed_at
    _wait_until(lambda: _query(server, ready_sql)[0][0] == DOCUMENTS, 300, "every document to be ready")
    recovered_s = time.monotonic() - restarted_at

    [(dead, retried, most_tries, most_attempts)] = _query(
        server,
        "SELECT sum(status = 'dead'), sum(json_array_length(history) > 0), max(json_array_length(history)) + 1,"
        " max(attempts) FROM jobs WHERE kind = 'document.ingest'",
    )
    doubled = _query(
        server,
        "SELECT document_id, ordinal FROM chunks GROUP BY collection, document_id, ordinal "
        "HAVING count(*) > 1",
    )
    [(rows, counted)] = _query(
        server, "SELECT (SELECT count(*) FROM chunks), (SELECT sum(chunk_count) FROM documents)"
    )
    hybrid_after = _wait_until(
        lambda: (r := _retrieve(server, "hybrid")[0]).status_code == 200 and r, 30, "hybrid search again"
    )
    model = client.get(f"/v1/collections/{COLLECTION}").json()
    print(
        f"\nkill test: {DOCUMENTS} documents, {ready_at_kill} ready at the kill; keyword {keyword_s * 1000:.0f} ms "
        f"(200), hybrid {hybrid_s * 1000:.0f} ms (503), vector {vector_s * 1000:.0f} ms (503); "
        f"service down {down_s:.1f} s; {retried} jobs retried (at most {most_tries} tries, {most_attempts} attempts counted), "
        f"{dead or 0} dead; all ready {recovered_s:.1f} s after the restart; {rows} chunk rows, "
        f"{len(doubled)} doubled"
    )
    assert not dead
    assert retried >= 1 and most_tries >= 2
    assert most_attempts == 1, "the outage used up attempts"
    assert doubled == []
    assert rows == counted
    assert hybrid_after.json()["results"]
    assert (model["embed_model"], model["embed_dimension"]) == ("all-MiniLM-L6-v2", 384)
