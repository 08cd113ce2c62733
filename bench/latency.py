"""Retrieve latency and throughput over HTTP on the SciFact collection: a bounded async httpx load
generator with 1, 8 and 32 concurrent closed-loop clients against a real ``ragworks serve`` on loopback;
p50/p95/p99 and requests/s for keyword, vector and hybrid beside the targets; then the same queries
in-process straight on the retriever, to show the HTTP/framework overhead as a ratio. Server peak RSS is
sampled while the load runs. Prints tables, exits 0::

    .venv/bin/python bench/latency.py                  # ~10-15 min on 2 cores, on the cached SciFact index
    .venv/bin/python bench/latency.py --docs           # also rewrite the 'latency' section of the docs
    .venv/bin/python bench/latency.py --limit 300 --requests 60 --max-seconds 15   # smoke: ~5 min

The collection is the data dir bench/ingest.py left in ``.bench/scifact`` (or ``.bench/scifact-N`` with
``--limit N``), else the one bench/quality.py left in ``.bench/eval-scifact``; when neither is there (or
with ``--reingest``) it is ingested over HTTP first (~20-30 min for the full corpus on a quiet host). Every request of the run carries a query text no other request of the run used (SciFact
queries of all splits, then corpus titles), so no cache of query embeddings can flatter the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from _common import (
    BENCH_DIR,
    DATA,
    MODES,
    LoadResult,
    Server,
    Slices,
    as_upload,
    http_ingest,
    load,
    md_table,
    percentile,
    print_table,
    read_docs,
    read_stamp,
    scifact_dir,
    section_header,
    verdict,
    wipe,
    write_section,
    write_stamp,
)

SCIFACT = DATA / "eval" / "scifact"
TARGETS = {("hybrid", "p50"): 15.0, ("hybrid", "p99"): 50.0, ("keyword", "p50"): 5.0}
TARGET_CLIENTS = 8


def query_pool() -> list[str]:
    """Distinct query texts: SciFact queries (all splits), then corpus titles; shuffled with a fixed seed."""
    seen: dict[str, None] = {}
    with (SCIFACT / "queries.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                seen.setdefault(json.loads(line)["text"].strip(), None)
    for doc in read_docs(SCIFACT):
        if doc["title"].strip():
            seen.setdefault(doc["title"].strip(), None)
    texts = list(seen)
    random.Random(7).shuffle(texts)
    return texts


def ensure_collection(limit: int | None, reingest: bool) -> tuple[Path, dict[str, Any]]:
    """A finished SciFact collection named ``eval``: the one bench/ingest.py left, else the one
    bench/quality.py (``ragworks eval``) left, else a new one ingested over HTTP."""
    docs = read_docs(SCIFACT, limit)
    candidates = [scifact_dir(limit)] + ([BENCH_DIR / "eval-scifact"] if limit is None else [])
    if not reingest:
        for data_dir in candidates:
            stamp = read_stamp(data_dir)
            if stamp is not None and stamp.get("passages") == len(docs):
                return data_dir, stamp
    data_dir = candidates[0]
    print(f"ingesting {len(docs):,} SciFact passages into {data_dir} over HTTP first ...", flush=True)
    wipe(data_dir)
    with Server(data_dir) as server:
        result = http_ingest(server, "eval", [as_upload(d) for d in docs])
    write_stamp(data_dir, {"passages": len(docs), "chunks": result.chunks, "dead": result.dead})
    return data_dir, read_stamp(data_dir) or {}


async def http_runs(
    server: Server, slices: Slices, clients: list[int], requests: int, max_seconds: float
) -> dict[tuple[str, int], LoadResult]:
    results: dict[tuple[str, int], LoadResult] = {}
    for mode in MODES:
        warm = [{"query": q, "collections": ["eval"], "mode": mode} for q in slices.take(10)]
        await load(server.url, warm, 1, requests=len(warm), max_seconds=60)
        for count in clients:
            texts = slices.take(requests)
            bodies = [{"query": q, "collections": ["eval"], "top_k": 10, "mode": mode} for q in texts]
            result = await load(server.url, bodies, count, requests=len(bodies), max_seconds=max_seconds)
            results[(mode, count)] = result
            lat = result.latencies_ms
            print(
                f"  HTTP {mode:<8} {count:>2} clients: {len(lat)} requests, p50 {percentile(lat, 50):.1f} ms, "
                f"p99 {percentile(lat, 99):.1f} ms, {result.rps:.1f} req/s, {result.errors} errors",
                flush=True,
            )
    return results


def paired(server: Server, data_dir: Path, slices: Slices, pairs: int) -> dict[str, dict[str, list[float]]]:
    """HTTP/framework overhead measured in pairs: each query goes once over HTTP to the server and once
    straight to ``Retriever.retrieve`` of a container opened here on a copy of the data dir (no HTTP, no
    workers), one right after the other, in alternating order, so both sides see the same load."""
    from ragworks.config import Settings
    from ragworks.roles.embedded import build_embedded
    from ragworks.services.retrieve_models import RetrieveInput

    with tempfile.TemporaryDirectory(dir=BENCH_DIR) as scratch:
        copy = Path(scratch) / "data"
        shutil.copytree(data_dir, copy, ignore=shutil.ignore_patterns(".lock"))
        container = build_embedded(Settings(data_dir=copy, log_json=False))
        container.start_engines()  # no workers: nothing to ingest
        samples: dict[str, dict[str, list[float]]] = {}
        try:
            with httpx.Client(base_url=server.url, timeout=60) as client:
                for mode in MODES:
                    for text in slices.take(10):  # warm-up of both sides, texts no measured request uses
                        body = {"query": text, "collections": ["eval"], "mode": mode}
                        client.post("/v1/retrieve", json=body).raise_for_status()
                        container.retriever.retrieve(RetrieveInput.model_validate(body))
                    http_ms: list[float] = []
                    local_ms: list[float] = []
                    for number, text in enumerate(slices.take(pairs)):
                        body = {"query": text, "collections": ["eval"], "top_k": 10, "mode": mode}
                        for side in (0, 1) if number % 2 else (1, 0):
                            began = time.perf_counter()
                            if side == 0:
                                client.post("/v1/retrieve", json=body).raise_for_status()
                                http_ms.append((time.perf_counter() - began) * 1000)
                            else:
                                container.retriever.retrieve(RetrieveInput.model_validate(body))
                                local_ms.append((time.perf_counter() - began) * 1000)
                    samples[mode] = {"http": http_ms, "local": local_ms}
                    print(
                        f"  paired {mode:<8}: HTTP p50 {percentile(http_ms, 50):.1f} ms, in-process p50 "
                        f"{percentile(local_ms, 50):.1f} ms",
                        flush=True,
                    )
        finally:
            container.stop_engines()
    return samples


def _errors(result: LoadResult) -> str:
    """Error count with its kinds, e.g. '2 (ReadTimeout 2)'."""
    if not result.errors:
        return "0"
    return f"{result.errors} (" + ", ".join(f"{k} {n}" for k, n in result.error_kinds.items()) + ")"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="SciFact passages in the collection")
    parser.add_argument("--reingest", action="store_true", help="ingest the collection again")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--requests", type=int, default=400, help="requests per mode and concurrency")
    parser.add_argument("--max-seconds", type=float, default=90, help="time cap per mode and concurrency")
    parser.add_argument(
        "--pairs", type=int, default=200, help="HTTP/in-process query pairs per mode (0: none)"
    )
    parser.add_argument("--docs", action="store_true", help="rewrite the 'latency' section of the docs")
    args = parser.parse_args()
    started = time.time()
    clients = sorted(set(args.clients) | {1})

    data_dir, stamp = ensure_collection(args.limit, args.reingest)
    slices = Slices(query_pool())
    print(
        f"SciFact collection: {stamp['passages']:,} passages, {stamp['chunks']:,} chunks ({data_dir}, "
        f"ingested by {stamp.get('revision')})"
    )
    server = Server(data_dir)
    server.start()
    try:
        if server.sampler is not None:
            server.sampler.reset()
        results = asyncio.run(http_runs(server, slices, clients, args.requests, args.max_seconds))
        peak_own, peak_tree = server.peak()
        pairs = paired(server, data_dir, slices, args.pairs) if args.pairs else {}
    finally:
        server.stop()

    head = ["mode", "clients", "requests", "p50 ms", "p95 ms", "p99 ms", "req/s", "errors", "target"]
    rows: list[list[Any]] = []
    for (mode, count), result in results.items():
        lat = result.latencies_ms
        p50, p99 = percentile(lat, 50), percentile(lat, 99)
        notes = []
        for (target_mode, stat), limit in TARGETS.items():
            if target_mode == mode and count == TARGET_CLIENTS:
                value = p50 if stat == "p50" else p99
                notes.append(f"{stat} ≤ {limit:.0f}: {verdict(value, limit, at_least=False)}")
        rows.append(
            [
                mode,
                count,
                len(lat),
                f"{p50:.1f}",
                f"{percentile(lat, 95):.1f}",
                f"{p99:.1f}",
                f"{result.rps:.1f}",
                _errors(result),
                "; ".join(notes),
            ]
        )
    print()
    print_table(head, rows)
    overhead_head = [
        "mode",
        "pairs",
        "HTTP p50 / p99 ms",
        "in-process p50 / p99 ms",
        "p50 ratio",
        "p99 ratio",
    ]
    overhead: list[list[Any]] = []
    for mode, sides in pairs.items():
        http, local = sides["http"], sides["local"]
        overhead.append(
            [
                mode,
                len(http),
                f"{percentile(http, 50):.1f} / {percentile(http, 99):.1f}",
                f"{percentile(local, 50):.1f} / {percentile(local, 99):.1f}",
                f"{percentile(http, 50) / percentile(local, 50):.2f}×",
                f"{percentile(http, 99) / percentile(local, 99):.2f}×",
            ]
        )
    if overhead:
        print()
        print_table(overhead_head, overhead)
    print(f"\nserver peak RSS under load: {peak_own:,.0f} MiB (with child processes {peak_tree:,.0f} MiB)")

    if args.docs:
        notes = (
            f"`ragworks serve` on a SciFact collection ({stamp['passages']:,} passages, {stamp['chunks']:,} "
            f"chunks; `.bench/{data_dir.name}`, ingested by {stamp.get('revision')}), POST /v1/retrieve with top_k=10 (highlights on, the default) from "
            "closed-loop async httpx clients in the benchmark process on the same 2 cores, over loopback; "
            f"up to {args.requests} requests or {args.max_seconds:.0f} s per row, after 10 warm-up requests per "
            "mode. Every request has a query text used by no other request (SciFact queries, then titles). "
            "Targets (from the issue) apply at 8 clients. Server peak RSS "
            f"during the load: {peak_own:,.0f} MiB (with child processes {peak_tree:,.0f} MiB)."
        )
        body = section_header("Retrieve latency and throughput over HTTP (SciFact)", started, notes)
        body += "\n" + md_table(head, rows)
        if overhead:
            body += (
                "\nHTTP/framework overhead at one client, measured in pairs: each query once over HTTP and "
                "once straight on `Retriever.retrieve` of a container in the benchmark process (on a copy "
                "of the data dir), back to back in alternating order, so both see the same load:\n\n"
                + md_table(overhead_head, overhead)
            )
        write_section("latency", body)


if __name__ == "__main__":
    main()
