"""kill -9 of a real server process in the middle of ingestion, then a restart: nothing is lost or doubled."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration

WORDS = [
    "river",
    "stone",
    "forest",
    "cloud",
    "engine",
    "signal",
    "harbor",
    "lantern",
    "meadow",
    "copper",
    "canyon",
    "orbit",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A ``ragworks serve`` process on a loopback port."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / f"server-{self.port}.log"

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "ragworks",
            "serve",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
        ]
        env = os.environ | {"RAGWORKS_JOBS__POLL_INTERVAL_S": "0.2", "RAGWORKS_LOG_LEVEL": "WARNING"}
        with self.log_path.open("ab") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "the server exited during start-up"
            try:
                if httpx.get(f"{self.url}/ready", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        raise AssertionError("the server did not become ready")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=60)


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
    server = Server(data_dir)
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

    restarted = Server(data_dir)
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
