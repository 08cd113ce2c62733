"""A started ragworks app (real engines) with documents, for tests of the generation services."""

from __future__ import annotations

import importlib.util
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from ragworks.app import create_app
from ragworks.config import JobSettings, LLMSettings, ServiceSettings, Settings
from ragworks.engines.llm.providers import PROVIDERS

MODEL_MISSING = "the llamacpp provider (llama-cpp-python and its adapter) is not installed"


def model_available() -> bool:
    """Whether the bundled model can run here (the llamacpp adapter and llama-cpp-python)."""
    return "llamacpp" in PROVIDERS and importlib.util.find_spec("llama_cpp") is not None


def model_settings() -> LLMSettings:
    """The bundled model on one thread: with other tests sharing the cores, llama.cpp's threads wait on
    each other and two run several times slower than one."""
    return LLMSettings(provider="llamacpp", threads=1, context_tokens=2048)


@contextmanager
def started_app(data_dir: Path, llm: LLMSettings | None = None) -> Iterator[TestClient]:
    """A started app on ``data_dir``; the LLM is the extractive provider unless ``llm`` says otherwise."""
    settings = Settings(
        data_dir=data_dir,
        log_json=False,
        llm=llm or LLMSettings(provider="extractive"),
        jobs=JobSettings(poll_interval_s=0.1, backoff_base_s=0.05, backoff_max_s=0.2, max_attempts=2),
        services=ServiceSettings(local_dir=data_dir / "no-local-services", entry_points=False),
    )
    with TestClient(create_app(settings)) as client:
        yield client


def add_documents(
    client: TestClient | httpx.Client, collection: str, documents: list[dict[str, Any]]
) -> None:
    """Create ``collection`` and index ``documents`` (JSON documents), waiting until they are ready."""
    response = client.post("/v1/collections", json={"name": collection})
    assert response.status_code == 201, response.text
    response = client.post(f"/v1/collections/{collection}/documents", json={"documents": documents})
    assert response.status_code == 202, response.text
    pending = {d["job_id"] for d in response.json()["documents"]}
    deadline = time.monotonic() + 300
    while pending and time.monotonic() < deadline:
        for job_id in list(pending):
            status = client.get(f"/v1/jobs/{job_id}").json()["status"]
            assert status not in ("dead", "cancelled"), status
            if status == "succeeded":
                pending.discard(job_id)
        time.sleep(0.1)
    assert not pending, f"{len(pending)} documents were not indexed in time"


def read_corpus(path: Path, ids: set[str] | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """BEIR corpus lines as JSON documents: those with ``ids``, or the first ``limit``, or both."""
    documents: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            wanted = ids is not None and row["_id"] in ids
            if wanted or (limit is not None and len(documents) < limit):
                documents.append({"id": row["_id"], "title": row.get("title") or None, "text": row["text"]})
    return documents


def call(client: TestClient, path: str, body: dict[str, Any]) -> Any:
    """POST ``body`` and return the JSON output (asserting 200)."""
    response = client.post(path, json=body)
    assert response.status_code == 200, response.text
    return response.json()
