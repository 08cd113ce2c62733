"""A backup taken while ``ragworks serve`` keeps ingesting, restored and served again.

Real server process, real model, real index: the source server ingests uploads in a thread while
``ragworks backup`` runs beside it; the archive is restored with ``ragworks restore`` and an app is
started on the restored data dir.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from backup.conftest import read_members
from helpers.server import Server
from ragworks.app import create_app
from ragworks.backup.manifest import MANIFEST_NAME, Manifest
from ragworks.cli.main import app
from ragworks.config import JobSettings, LLMSettings, Settings

pytestmark = pytest.mark.integration

STABLE, CHURN = "stable", "churn"  # searched and compared / written to during the backup
TEXTS = {
    "tides.txt": "The moon's gravity raises ocean tides twice a day along every coast.",
    "volcano.txt": "Volcanic eruptions throw ash and sulfur dioxide high into the atmosphere.",
    "bees.txt": "Honey bees dance to tell their hive where the flowers with nectar are.",
    "glacier.txt": "Glaciers carve valleys as the ice slowly grinds over the bedrock below.",
    "coffee.txt": "Coffee beans are roasted until their sugars caramelise and oils appear.",
    "comet.txt": "A comet grows a tail of gas and dust when it passes close to the sun.",
}
QUERIES = ["why are there tides", "ash in the sky", "how bees find flowers", "roasting coffee"]
WIDE = {"COLUMNS": "200"}  # rich wraps output to the terminal width
Hits = list[tuple[str, str]]


@dataclass
class LiveBackup:
    archive: Path
    ready_at_start: dict[str, set[str]]  # per collection, the documents ready when the backup began
    searches: dict[str, Hits]  # per query, the source server's answer
    uploads_during_backup: int
    output: str


def _upload(client: httpx.Client, collection: str, files: dict[str, str]) -> list[dict[str, Any]]:
    parts = [("files", (name, text.encode())) for name, text in files.items()]
    response = client.post(f"/v1/collections/{collection}/documents", files=parts)
    assert response.status_code == 202, response.text
    accepted: list[dict[str, Any]] = response.json()["documents"]
    return accepted


def _wait_for_jobs(client: httpx.Client | TestClient, job_ids: list[str], timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    for job_id in job_ids:
        while (status := client.get(f"/v1/jobs/{job_id}").json()["status"]) not in ("succeeded", "dead"):
            assert time.monotonic() < deadline, f"job {job_id} did not finish"
            time.sleep(0.1)
        assert status == "succeeded"


def _documents(client: httpx.Client | TestClient, collection: str) -> dict[str, str]:
    """Every document of ``collection``, by id, with its status."""
    found: dict[str, str] = {}
    params: dict[str, Any] = {"limit": 500}
    while True:
        page = client.get(f"/v1/collections/{collection}/documents", params=params).json()
        found.update({doc["id"]: doc["status"] for doc in page["documents"]})
        if page["next_cursor"] is None:
            return found
        params["cursor"] = page["next_cursor"]


def _ready(client: httpx.Client | TestClient, collection: str) -> set[str]:
    return {doc for doc, status in _documents(client, collection).items() if status == "ready"}


def _search(client: httpx.Client | TestClient, query: str) -> Hits:
    response = client.post("/v1/retrieve", json={"query": query, "collections": [STABLE], "top_k": 5})
    assert response.status_code == 200, response.text
    return [(hit["chunk_id"], hit["document_id"]) for hit in response.json()["results"]]


def _keep_ingesting(url: str, stop: threading.Event, uploads: list[int]) -> None:
    """Upload bursts of new files to CHURN until ``stop``; counts them in ``uploads``."""
    with httpx.Client(base_url=url, timeout=60) as client:
        for burst in itertools.count():
            if stop.is_set():
                return
            files = {
                f"churn-{burst}-{n}.txt": f"Report {burst}.{n} on river levels and rainfall."
                for n in range(8)
            }
            _upload(client, CHURN, files)
            uploads.append(len(files))


@pytest.fixture(scope="module")
def live_backup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveBackup]:
    root = tmp_path_factory.mktemp("live")
    server = Server(root / "data")
    server.data_dir.mkdir()
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            for name in (STABLE, CHURN):
                assert client.post("/v1/collections", json={"name": name}).status_code == 201
            accepted = _upload(client, STABLE, TEXTS) + _upload(client, CHURN, {"first.txt": "River levels."})
            _wait_for_jobs(client, [doc["job_id"] for doc in accepted])
            searches = {query: _search(client, query) for query in QUERIES}
            stop, uploads = threading.Event(), list[int]()
            writer = threading.Thread(target=_keep_ingesting, args=(server.url, stop, uploads))
            writer.start()
            try:
                while len(uploads) < 2:  # uploads are flowing before the backup starts
                    time.sleep(0.05)
                ready_at_start = {name: _ready(client, name) for name in (STABLE, CHURN)}
                before = sum(uploads)
                archive = root / "backup.tar.gz"
                result = CliRunner().invoke(
                    app, ["backup", str(archive), "--data-dir", str(server.data_dir)], env=WIDE
                )
                during = sum(uploads) - before
            finally:
                stop.set()
                writer.join(timeout=120)
            assert result.exit_code == 0, result.output
    finally:
        server.stop()
    yield LiveBackup(archive, ready_at_start, searches, during, result.output)


def _settings(data_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir,
        log_json=False,
        jobs=JobSettings(poll_interval_s=0.1),
        llm=LLMSettings(provider="extractive"),  # these tests need no generative model
    )


def _restore(archive: Path, data_dir: Path) -> str:
    result = CliRunner().invoke(app, ["restore", str(archive), "--data-dir", str(data_dir)], env=WIDE)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def restored(live_backup: LiveBackup, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """An app on the data dir the live backup was restored into."""
    data_dir = tmp_path_factory.mktemp("restored") / "data"
    _restore(live_backup.archive, data_dir)
    with TestClient(create_app(_settings(data_dir))) as client:
        yield client


def test_the_backup_ran_while_uploads_kept_arriving(live_backup: LiveBackup) -> None:
    assert live_backup.uploads_during_backup > 0
    assert "not copied (the data dir was in use" in live_backup.output


def test_every_document_ready_at_backup_start_is_restored_ready(
    live_backup: LiveBackup, restored: TestClient
) -> None:
    for collection, ready in live_backup.ready_at_start.items():
        assert ready <= _ready(restored, collection), collection


def test_the_same_searches_return_the_same_chunks(live_backup: LiveBackup, restored: TestClient) -> None:
    for query, hits in live_backup.searches.items():
        assert hits, query
        assert _search(restored, query) == hits, query


def test_uploads_waiting_in_the_snapshot_are_ingested_after_restore(
    live_backup: LiveBackup, restored: TestClient
) -> None:
    manifest = Manifest.from_json(read_members(live_backup.archive)[MANIFEST_NAME])
    churn = next(c for c in manifest.collections if c.name == CHURN)
    waiting = sum(n for status, n in churn.documents.items() if status in ("queued", "processing"))
    assert waiting > 0  # the snapshot caught uploads whose jobs had not finished
    assert manifest.missing_blobs == []
    deadline = time.monotonic() + 180
    statuses = _documents(restored, CHURN)
    while {"queued", "processing"} & set(statuses.values()):
        assert time.monotonic() < deadline, "restored uploads were not ingested"
        time.sleep(0.2)
        statuses = _documents(restored, CHURN)
    assert set(statuses.values()) == {"ready"}
    assert len(statuses) == sum(churn.documents.values())


def test_an_idle_data_dir_is_backed_up_with_its_index_and_serves_the_same(
    live_backup: LiveBackup, tmp_path: Path
) -> None:
    _restore(live_backup.archive, tmp_path / "idle")
    second = tmp_path / "idle.tar.gz"
    result = CliRunner().invoke(app, ["backup", str(second), "--data-dir", str(tmp_path / "idle")], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "index: copied" in result.output
    output = _restore(second, tmp_path / "again")
    assert "copied from the archive, 0 chunks added and 0 removed" in output
    with TestClient(create_app(_settings(tmp_path / "again"))) as client:
        assert _search(client, QUERIES[0]) == live_backup.searches[QUERIES[0]]


def test_restore_into_a_data_dir_that_is_not_empty_is_refused(
    live_backup: LiveBackup, tmp_path: Path
) -> None:
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "ragworks.db").write_bytes(b"someone else's database")
    args = ["restore", str(live_backup.archive), "--data-dir", str(tmp_path / "used")]
    result = CliRunner().invoke(app, args, env=WIDE)
    assert result.exit_code == 1
    assert "is not empty" in result.output
    assert (tmp_path / "used" / "ragworks.db").read_bytes() == b"someone else's database"


def test_a_corrupted_archive_is_refused_with_a_clear_error(live_backup: LiveBackup, tmp_path: Path) -> None:
    data = bytearray(live_backup.archive.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 256] = bytes(256)
    (tmp_path / "corrupt.tar.gz").write_bytes(bytes(data))
    args = ["restore", str(tmp_path / "corrupt.tar.gz"), "--data-dir", str(tmp_path / "new")]
    result = CliRunner().invoke(app, args, env=WIDE)
    assert result.exit_code == 1
    assert "damaged" in result.output
    assert [p.name for p in (tmp_path / "new").iterdir()] == [".lock"]
