"""In-process retrieve latency per mode at 1 and N concurrent callers, cold (every query distinct).

Opens an already-ingested data dir (e.g. the one ``ragworks eval ... --data-dir DIR`` built) without
workers and times ``Retriever.retrieve`` from a thread pool, the way the HTTP route calls it (one
worker thread per request). Runs that embed the query (vector, hybrid) each get their own slice of
the SciFact queries (train + test, 1,109 texts), so no query is ever embedded twice and an embedding
cache cannot flatter the numbers. ``cpu ms/q`` is the process's CPU time (all threads) per request: on a
shared machine it moves far less than wall time, and 2 cores / cpu ms/q bounds the requests per second::

    .venv/bin/ragworks eval ../shared/data/eval/scifact --split train --data-dir /tmp/eval-scifact
    .venv/bin/python bench/query_latency.py /tmp/eval-scifact --collection eval --clients 1 8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ragworks.config import Settings
from ragworks.container import Container
from ragworks.roles.embedded import build_embedded
from ragworks.services.retrieve_models import RetrieveInput

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "eval" / "scifact"
WARM_UP = ["warm-up query about proteins", "cells and tissue repair", "vaccine efficacy in adults"]


def _queries(path: Path) -> list[str]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line)["text"] for line in lines if line.strip()]


def _run(container: Container, collection: str, mode: str, texts: list[str], clients: int) -> list[float]:
    def one(text: str) -> float:
        request = RetrieveInput(query=text, collections=[collection], top_k=10, mode=mode)
        started = time.perf_counter()
        container.retriever.retrieve(request)
        return (time.perf_counter() - started) * 1000

    with ThreadPoolExecutor(max_workers=clients) as pool:
        return list(pool.map(one, texts))


def _rss_mib() -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


async def main(data_dir: Path, collection: str, clients: list[int], per_run: int) -> None:
    container = build_embedded(Settings(data_dir=data_dir, log_json=False))
    await container.start(workers=False)
    try:
        texts = _queries(DATA / "queries.jsonl")
        for mode in ("keyword", "vector", "hybrid"):  # warm every code path once
            _run(container, collection, mode, WARM_UP, 1)
        print(f"{len(texts)} distinct SciFact queries, {per_run} per run, top_k=10, in-process")
        print(f"{'mode':<9}{'clients':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'q/s':>8}{'cpu ms/q':>10}")
        offset = 0
        for mode in ("keyword", "vector", "hybrid"):
            for n in clients:
                if mode == "keyword":
                    run_texts = texts[:per_run]
                else:  # a fresh slice: every embedded query is new to the process
                    run_texts = [texts[(offset + i) % len(texts)] for i in range(per_run)]
                    offset += per_run
                started, cpu = time.perf_counter(), time.process_time()
                samples = _run(container, collection, mode, run_texts, n)
                rate = len(samples) / (time.perf_counter() - started)
                cpu_ms = (time.process_time() - cpu) * 1000 / len(samples)  # all threads of the process
                cuts = statistics.quantiles(samples, n=100)
                print(
                    f"{mode:<9}{n:>8}{cuts[49]:>9.2f}{cuts[94]:>9.2f}{cuts[98]:>9.2f}{rate:>8.1f}{cpu_ms:>10.2f}"
                )
        print(
            f"process RSS {_rss_mib():.0f} MiB, peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
        )
    finally:
        await container.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("data_dir", type=Path, help="an ingested data dir (never the one a server is using)")
    parser.add_argument("--collection", default="eval")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--per-run", type=int, default=250, help="queries timed per (mode, clients) run")
    args = parser.parse_args()
    asyncio.run(main(args.data_dir, args.collection, args.clients, args.per_run))
