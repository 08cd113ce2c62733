"""Requests a fault test makes to see what clients see: timed, with the error code kept."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True, slots=True)
class Probe:
    """One request made while a part was down: what came back and how long it took."""

    status: int | None  # None: no answer (refused, reset, timed out)
    code: str | None  # the error body's code, or the transport error's class when there was no answer
    seconds: float

    @property
    def label(self) -> str:
        """``200``, ``503 not_ready``, ``no answer (ConnectError)``."""
        if self.status is None:
            return f"no answer ({self.code})"
        return f"{self.status} {self.code}" if self.code else str(self.status)

    def line(self) -> str:
        return f"{self.label} in {self.seconds:.2f} s"


def probe(
    client: httpx.Client, method: str, path: str, body: object = None, files: dict[str, Any] | None = None
) -> Probe:
    """Make one request (``body`` as JSON, or ``files`` as multipart) and time it; an error body's code
    is kept."""
    started = time.monotonic()
    try:
        response = client.request(method, path, json=body, files=files)
    except httpx.TransportError as exc:
        return Probe(None, type(exc).__name__, time.monotonic() - started)
    code = None
    if response.status_code >= 400:
        with contextlib.suppress(ValueError, AttributeError):
            code = response.json()["error"]["code"]
    return Probe(response.status_code, code, time.monotonic() - started)


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> float:
    """Poll ``condition()`` until it is true; returns the seconds it took."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout_s, f"timed out waiting for {what}"
        time.sleep(0.2)
    return time.monotonic() - started


def create_collection(url: str, name: str) -> None:
    """Create collection ``name`` through the API."""
    response = httpx.post(f"{url}/v1/collections", json={"name": name}, timeout=30)
    assert response.status_code == 201, response.text


def indexed_chunks(url: str, collection: str) -> float | None:
    """The index's chunk count of ``collection`` (the ``index_chunks`` gauge of ``/metrics``)."""
    for line in httpx.get(f"{url}/metrics", timeout=30).text.splitlines():
        if line.startswith("index_chunks{") and f'collection="{collection}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return None


def search_finds(url: str, collection: str, marker: str, expected_id: str, mode: str = "keyword") -> bool:
    """Whether a search for ``marker`` answers 200 with ``expected_id`` first."""
    body = {"query": marker, "collections": [collection], "mode": mode, "top_k": 3}
    response = httpx.post(f"{url}/v1/retrieve", json=body, timeout=30)
    if response.status_code != 200:
        return False
    hits = response.json()["results"]
    return bool(hits) and hits[0]["document_id"] == expected_id


def metric(url: str, name: str) -> float:
    """The sum of ``name``'s samples on ``url``'s ``/metrics`` (0 when it has none)."""
    lines = httpx.get(f"{url}/metrics", timeout=30).text.splitlines()
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines if line.split("{")[0].split(" ")[0] == name)
