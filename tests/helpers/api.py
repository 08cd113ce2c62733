"""HTTP helpers for API tests."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient


def wait_for_job(client: TestClient, job_id: str, timeout_s: float = 180) -> dict[str, Any]:
    """Poll a job until it has finished (succeeded, dead or cancelled)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "dead", "cancelled"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish in {timeout_s} s")


def upload(client: TestClient, collection: str, files: list[tuple[str, bytes]], **form: str) -> Any:
    """POST files as multipart; returns the response."""
    parts = [("files", (name, data)) for name, data in files]
    return client.post(f"/v1/collections/{collection}/documents", files=parts, data=form)


def retrieve(client: TestClient, collection: str, query: str, **options: Any) -> dict[str, Any]:
    """Run a retrieve request and return the JSON body (asserting 200)."""
    response = client.post("/v1/retrieve", json={"query": query, "collections": [collection], **options})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def shared_hwp(shared_data: Path) -> list[Path]:
    """The real Hancom HWP files."""
    return sorted((shared_data / "files" / "hwp").glob("*.hwp"))
