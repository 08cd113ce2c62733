"""kill -9 of a real server process in the middle of ingestion, then a restart: nothing is lost or doubled."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers.load import WORDS
from helpers.server import Server

pytestmark = pytest.mark.integration


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "data"
    path.mkdir()
    yield path


def _documents(count: int) -> list[dict[str, Any]]:
    docs = []
    for i in range(count):
        body = " ".join(WORDS[(i + j) % len(WORDS)] for j in range(120))
        docs.append({"id": f"doc-{i}", "text": f"Marker token uniq{i}x appears here. {body}"})
    return docs


def _job_statuses(url: str) -> dict[str, int]:
    jobs = httpx.get(f"{url}/v1/jobs", params={"limit": 500}).json()["jobs"]
    counts: dict[str, int] = {}
    for job in jobs:
        counts[job["status"]] = counts.get(job["status"], 0) + 1
    return counts


def test_kill_9_mid_ingestion_loses_and_doubles_nothing(data_dir: Path) -> None:
    total = 240
    small_batches = {"RAGWORKS_JOBS__INGEST_BATCH": "16"}  # jobs finish batch by batch: some before the kill
    server = Server(data_dir, env=small_batches)
    server.start()
    try:
        httpx.post(f"{server.url}/v1/collections", json={"name": "crash"}).raise_for_status()
        response = httpx.post(
            f"{server.url}/v1/collections/crash/documents", json={"documents": _documents(total)}, timeout=60
        )
        assert response.status_code == 202
        deadline = time.monotonic() + 120
        while (before_kill := _job_statuses(server.url)).get("succeeded", 0) == 0:
            assert time.monotonic() < deadline, "no job finished before the kill"
            time.sleep(0.05)
        server.kill()
    finally:
        server.stop()
    assert before_kill.get("succeeded", 0) < total, "the kill came too late to interrupt anything"

    restarted = Server(data_dir, env=small_batches)
    restarted.start()
    try:
        deadline = time.monotonic() + 300
        while (statuses := _job_statuses(restarted.url)).get("succeeded", 0) < total:
            assert time.monotonic() < deadline, f"jobs did not all finish after restart: {statuses}"
            assert not statuses.get("dead"), statuses
            time.sleep(0.5)
        collection = httpx.get(f"{restarted.url}/v1/collections/crash").json()
        assert collection["document_count"] == total
        assert collection["chunk_count"] == total  # one chunk per short document: none doubled
        metrics = httpx.get(f"{restarted.url}/metrics").text
        assert f'index_chunks{{collection="crash"}} {float(total)}' in metrics
        for i in (0, total // 2, total - 1):
            body = {"query": f"uniq{i}x", "collections": ["crash"], "mode": "keyword", "top_k": 5}
            hits = httpx.post(f"{restarted.url}/v1/retrieve", json=body).json()["results"]
            assert [h["document_id"] for h in hits] == [f"doc-{i}"]
    finally:
        restarted.stop()
