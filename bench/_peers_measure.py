"""Measurements of bench/peers_compare.py: load phases (closed and open loop, in a separate load
process) with the server's CPU per request, nDCG@10 over HTTP, and ingestion over HTTP.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from _common import REPO, batched, percentile
from _peers_systems import Service, retrieve_body

LOADER = REPO / "bench" / "_peers_load.py"
RETRIEVE = "/v1/retrieve"
JOB_LINE = re.compile(r'^jobs\{kind="([^"]+)",status="(\w+)"\} ([0-9.e+]+)$', re.M)
PENDING = ("queued", "running", "failed")  # failed: waiting for a retry


def wait_for_jobs(url: str, timeout_s: float = 1_800) -> float:
    """Wait until ragworks has no job of any kind pending (ingestion, then the fusion calibration it
    schedules, which embeds pseudo-queries and would otherwise run during the load); seconds waited."""
    started = time.perf_counter()
    with httpx.Client(base_url=url, timeout=60) as client:
        while time.perf_counter() - started < timeout_s:
            text = client.get("/metrics").text
            if not any(s in PENDING and float(n) > 0 for _, s, n in JOB_LINE.findall(text)):
                break
            time.sleep(1.0)
    return time.perf_counter() - started


def idle_cpu(
    service: Service, window_s: float = 2.0, quiet_ms: float = 30.0, max_wait_s: float = 120
) -> float:
    """CPU ms per second the service spends with no request, once two windows in a row are under
    ``quiet_ms`` (or after ``max_wait_s``): its background cost, which every request phase also pays."""
    deadline, quiet, rate = time.perf_counter() + max_wait_s, 0, float("nan")
    while time.perf_counter() < deadline and quiet < 2:
        before = service.cpu_s()
        time.sleep(window_s)
        rate = 1000 * (service.cpu_s() - before) / window_s
        quiet = quiet + 1 if rate < quiet_ms else 0
    return rate


@dataclass
class Phase:
    """One load phase against one service: latencies, throughput, and CPU of both sides per request."""

    latencies_ms: list[float]
    errors: dict[str, int]
    seconds: float
    server_cpu_s: float
    client_cpu_ms: float
    rate: float | None = None  # the open loop's timetable, requests/s
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        return len(self.latencies_ms)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms(self) -> float:
        """Server CPU milliseconds per answered request (errors count: they cost the server too)."""
        done = self.requests + sum(self.errors.values())
        return 1000 * self.server_cpu_s / done if done else float("nan")

    def p(self, q: float) -> float:
        return percentile(self.latencies_ms, q)


def run_phase(service: Service, queries: QueryPool, bodies: Sequence[dict[str, Any]], seconds: float, *,
              clients: int = 1, rate: float | None = None) -> Phase:  # fmt: skip
    """Send ``bodies`` for ``seconds`` (closed loop with ``clients`` connections, or open loop at
    ``rate`` per second), reading the service's CPU time before and after; the texts sent are taken
    from ``queries``."""
    spec: dict[str, Any] = {"url": service.url, "path": RETRIEVE, "bodies": list(bodies), "seconds": seconds}
    spec |= {"rate": rate, "connections": 64} if rate else {"clients": clients}
    before = service.cpu_s()
    done = subprocess.run(
        [sys.executable, str(LOADER)], input=json.dumps(spec), capture_output=True, text=True, check=False
    )
    server_cpu = service.cpu_s() - before
    if done.returncode != 0:
        raise RuntimeError(f"the load generator failed:\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout)
    queries.advance(len(result["latencies_ms"]) + sum(result["errors"].values()))
    return Phase(
        latencies_ms=result["latencies_ms"],
        errors=result["errors"],
        seconds=result["seconds"],
        server_cpu_s=server_cpu,
        client_cpu_ms=result["client_cpu_ms_per_request"],
        rate=rate,
    )


class QueryPool:
    """Distinct query texts handed out in order; a phase takes what it may need and gives back what it
    did not send, so no text is sent twice until the pool runs out (then it starts over, said so)."""

    def __init__(self, texts: list[str]) -> None:
        self.texts, self.position = texts, 0

    def peek(self, count: int) -> list[str]:
        return [self.texts[(self.position + i) % len(self.texts)] for i in range(count)]

    def advance(self, count: int) -> None:
        if self.position + count > len(self.texts):
            print(f"  (query pool of {len(self.texts):,} texts exhausted: texts repeat from here)")
        self.position = (self.position + count) % len(self.texts)


def bodies_for(
    queries: QueryPool, collection: str, mode: str, count: int, **extra: Any
) -> list[dict[str, Any]]:
    """Up to ``count`` retrieve bodies, each with a query text no earlier phase of the run sent."""
    return [retrieve_body(q, collection, mode, **extra) for q in queries.peek(count)]


def warm(service: Service, queries: QueryPool, collection: str, mode: str, count: int = 20) -> None:
    """A few requests first: lazy loads, caches of the first query, connection pools."""
    with httpx.Client(base_url=service.url, timeout=120) as client:
        for body in bodies_for(queries, collection, mode, count):
            client.post(RETRIEVE, json=body).raise_for_status()
    queries.advance(count)


def warm_ingest(service: Service, documents: list[dict[str, Any]], ragworks: bool) -> None:
    """Ingest a few passages into a scratch collection first, so the timed sample pays no one-off cost
    (first batch through the parser, tokenizer and embedder) that the peers pay at start-up."""
    with httpx.Client(base_url=service.url, timeout=600) as client:
        if ragworks:
            client.post("/v1/collections", json={"name": "warm-up"})
        client.post("/v1/collections/warm-up/documents", json={"documents": documents}).raise_for_status()
    if ragworks:
        wait_for_jobs(service.url)


def canned_answer(service: Service, collection: str, query: str, path: Path) -> int:
    """Save one real ragworks retrieve answer (top 10, hybrid) for the floor to send back; its size."""
    with httpx.Client(base_url=service.url, timeout=120) as client:
        response = client.post(RETRIEVE, json=retrieve_body(query, collection, "hybrid"))
        response.raise_for_status()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(response.content)
    return len(response.content)


def ndcg(service: Service, collection: str, queries: dict[str, str], qrels: dict[str, dict[str, int]],
         mode: str, chunks: int = 30) -> float:  # fmt: skip
    """Mean nDCG@10 over ``queries``: ``chunks`` chunks retrieved over HTTP, each document ranked by its
    best chunk (as ``ragworks eval`` ranks, with a shallower pool)."""
    from ragworks.evaluation.metrics import ndcg_at_k

    total = 0.0
    with httpx.Client(base_url=service.url, timeout=120) as client:
        for query_id, text in queries.items():
            body = retrieve_body(text, collection, mode, top_k=chunks, highlight=False)
            response = client.post(RETRIEVE, json=body)
            response.raise_for_status()
            ranking = list(dict.fromkeys(hit["document_id"] for hit in response.json()["results"]))
            total += ndcg_at_k(ranking, qrels.get(query_id, {}), 10)
    return total / max(len(queries), 1)


def ingest_peer(
    service: Service, collection: str, documents: list[dict[str, Any]], batch: int = 250
) -> float:
    """POST the passages in batches to a peer (answered when indexed); passages per second."""
    with httpx.Client(base_url=service.url, timeout=3600) as client:
        client.delete(f"/v1/collections/{collection}")
        started = time.perf_counter()
        for part in batched(documents, batch):
            client.post(
                f"/v1/collections/{collection}/documents", json={"documents": part}
            ).raise_for_status()
        return len(documents) / (time.perf_counter() - started)


def drop(service: Service, collection: str) -> None:
    with httpx.Client(base_url=service.url, timeout=600) as client:
        client.delete(f"/v1/collections/{collection}")


def save_peer(service: Service, collection: str) -> None:
    with httpx.Client(base_url=service.url, timeout=600) as client:
        client.post(f"/v1/collections/{collection}/save").raise_for_status()
