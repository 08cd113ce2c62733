"""Scale: ingest scale-wordnet-en (117,659 short glosses) and scale-linuxdoc-en (32,589 long passages) into
one collection of a real ``ragworks serve`` over HTTP; report ingest time, index size on disk, server RSS
(peak while ingesting and while querying), and retrieve p50/p95/p99 at ~150k passages. Prints tables,
exits 0::

    .venv/bin/python bench/scale.py                 # full: ~1.5-2 h of ingestion on 2 cores, then ~5 min
    .venv/bin/python bench/scale.py --limit 500     # smoke: 500 passages of each corpus, ~2 min
    .venv/bin/python bench/scale.py --docs          # also rewrite the 'scale' section of docs/benchmarks.md

The ingested data dir is cached under ``.bench/scale-*`` (with a ``.json`` stamp of the ingestion's
figures), so a re-run measures latency on it without ingesting again; ``--reingest`` starts from scratch.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import time
from typing import Any

from _common import (
    BENCH_DIR,
    DATA,
    MODES,
    LoadResult,
    Server,
    Slices,
    dir_size_mib,
    http_ingest,
    load,
    md_table,
    percentile,
    print_table,
    read_docs,
    read_stamp,
    section_header,
    verdict,
    wipe,
    write_section,
    write_stamp,
)

CORPORA = ("scale-wordnet-en", "scale-linuxdoc-en")
RSS_TARGET_MIB = 3e9 / 2**20  # 3 GB
P99_TARGETS = {"keyword": 20.0, "hybrid": 60.0}


def query_pool(docs: list[dict[str, Any]]) -> list[str]:
    """Distinct titles of both corpora (a WordNet lemma, a kernel-docs heading), shuffled with a fixed
    seed, so no request of a run repeats the text of another (no query-embedding cache can help)."""
    seen: dict[str, None] = {}
    for doc in docs:
        title = re.sub(r"^[\d.]+\s*", "", doc["title"].split(",")[0]).strip()
        if title:
            seen.setdefault(title, None)
    texts = list(seen)
    random.Random(7).shuffle(texts)
    return texts


def _load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def ingest(data_dir: Any, docs: list[dict[str, Any]], batch: int) -> dict[str, Any]:
    """Ingest into a new data dir over HTTP; returns the figures kept in the cache stamp."""
    wipe(data_dir)
    load_before = _load()
    server = Server(data_dir)
    server.start()
    try:
        print(f"ingesting {len(docs):,} passages over HTTP into {data_dir} ...", flush=True)
        uploads = [
            {"id": d["id"], "text": d["text"] or d["title"], "title": d["title"] or None} for d in docs
        ]
        result = http_ingest(server, "scale", uploads, batch=batch)
        after_own, after_tree = server.rss()
    finally:
        server.stop()
    facts = {
        "passages": result.documents,
        "upload_retries": result.upload_retries,
        "load_average": f"{load_before} at the start, {_load()} at the end",
        "chunks": result.chunks,
        "dead": result.dead,
        "ingest_s": result.seconds,
        "upload_s": result.upload_s,
        "peak_rss_mib": result.peak_rss_mib,
        "peak_tree_rss_mib": result.peak_tree_rss_mib,
        "rss_after_ingest_mib": after_own,
        "tree_rss_after_ingest_mib": after_tree,
        "index_mib": dir_size_mib(data_dir / "index"),
        "data_dir_mib": dir_size_mib(data_dir),
    }
    write_stamp(data_dir, facts)
    return facts


async def measure(server: Server, slices: Slices, requests: int, max_seconds: float) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for mode in MODES:
        warm = [{"query": q, "collections": ["scale"], "top_k": 10, "mode": mode} for q in slices.take(20)]
        await load(server.url, warm, 1, requests=len(warm), max_seconds=60)
        for clients in (1, 8):
            texts = slices.take(requests)
            bodies = [{"query": q, "collections": ["scale"], "top_k": 10, "mode": mode} for q in texts]
            result = await load(server.url, bodies, clients, requests=len(bodies), max_seconds=max_seconds)
            rows[f"{mode}@{clients}"] = result
            lat = result.latencies_ms
            print(
                f"  {mode:<8} {clients:>2} clients: p50 {percentile(lat, 50):.1f} ms, "
                f"p99 {percentile(lat, 99):.1f} ms, {result.rps:.1f} req/s, {result.errors} errors",
                flush=True,
            )
    return rows


def _errors(result: LoadResult) -> str:
    """Error count with its kinds, e.g. '2 (ReadTimeout 2)'."""
    if not result.errors:
        return "0"
    return f"{result.errors} (" + ", ".join(f"{k} {n}" for k, n in result.error_kinds.items()) + ")"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="passages taken from each corpus")
    parser.add_argument("--reingest", action="store_true", help="ignore the cached data dir")
    parser.add_argument("--batch", type=int, default=1000, help="documents per upload request")
    parser.add_argument("--requests", type=int, default=600, help="requests per mode and concurrency")
    parser.add_argument("--max-seconds", type=float, default=60, help="time cap per mode and concurrency")
    parser.add_argument("--docs", action="store_true", help="rewrite the 'scale' section of the docs")
    args = parser.parse_args()
    started = time.time()

    docs: list[dict[str, Any]] = []
    for name in CORPORA:
        docs += read_docs(DATA / "scale" / name, args.limit)
    data_dir = BENCH_DIR / ("scale-full" if args.limit is None else f"scale-{args.limit}")
    facts = None if args.reingest else read_stamp(data_dir)
    if facts is not None and facts.get("passages") != len(docs):
        facts = None
    if facts is None:
        facts = ingest(data_dir, docs, args.batch)
        reused = ""
    else:
        reused = (
            f"ingested earlier at {facts['revision']} (cached in {data_dir.relative_to(BENCH_DIR.parent)})"
        )
        print(f"reusing {data_dir}: {reused}")

    slices = Slices(query_pool(docs))
    server = Server(data_dir)
    server.start()
    try:
        started_own, _ = server.rss()
        if server.sampler is not None:
            server.sampler.reset()
        print(f"retrieve on {facts['chunks']:,} chunks, distinct title queries, top_k=10", flush=True)
        rows = asyncio.run(measure(server, slices, args.requests, args.max_seconds))
        query_peak, query_peak_tree = server.peak()
    finally:
        server.stop()

    passages, seconds = facts["passages"], facts["ingest_s"]
    print(f"\n{passages:,} passages → {facts['chunks']:,} chunks; {facts['dead']} dead jobs")
    print(
        f"ingestion: load average {facts.get('load_average', '?')}; {facts.get('upload_retries', 0)} upload retries"
    )
    ingest_rows = [
        ["ingest, upload → all ready", f"{seconds:,.0f} s", f"{passages / seconds:.1f} passages/s"],
        ["  of which uploading (HTTP, 1 client)", f"{facts['upload_s']:,.0f} s", ""],
        ["index on disk (tantivy + usearch)", f"{facts['index_mib']:,.0f} MiB", ""],
        ["whole data dir (SQLite, blobs, index)", f"{facts['data_dir_mib']:,.0f} MiB", ""],
        ["server start on this data dir", f"{server.start_s:.1f} s", ""],
    ]
    print_table(["scale", "value", ""], ingest_rows)
    mem_rows = [
        ["peak while ingesting", facts["peak_rss_mib"], facts["peak_tree_rss_mib"]],
        ["after ingesting", facts["rss_after_ingest_mib"], facts["tree_rss_after_ingest_mib"]],
        ["after a restart", started_own, None],
        ["peak while querying", query_peak, query_peak_tree],
    ]
    mem_table = [
        [
            name,
            f"{own:,.0f}",
            "" if tree is None else f"{tree:,.0f}",
            verdict(max(own, tree or 0), RSS_TARGET_MIB, at_least=False),
        ]
        for name, own, tree in mem_rows
    ]
    print()
    mem_head = ["server RSS", "server MiB", "with child processes MiB", "≤ 3 GB (2,861 MiB)"]
    print_table(mem_head, mem_table)
    lat_rows = []
    for key, result in rows.items():
        mode, clients = key.split("@")
        lat = result.latencies_ms
        target = P99_TARGETS.get(mode)
        p99 = percentile(lat, 99)
        lat_rows.append(
            [
                mode,
                clients,
                len(lat),
                f"{percentile(lat, 50):.1f}",
                f"{percentile(lat, 95):.1f}",
                f"{p99:.1f}",
                f"{result.rps:.1f}",
                _errors(result),
                "" if target is None else f"≤ {target:.0f}: {verdict(p99, target, at_least=False)}",
            ]
        )
    lat_head = ["mode", "clients", "requests", "p50 ms", "p95 ms", "p99 ms", "req/s", "errors", "p99 target"]
    print()
    print_table(lat_head, lat_rows)
    if args.docs:
        notes = (
            f"{', '.join(CORPORA)} ({passages:,} passages → {facts['chunks']:,} chunks, {facts['dead']} dead "
            "jobs) uploaded as JSON batches of "
            f"{args.batch} to one collection of a `ragworks serve` process; latency over loopback HTTP "
            f"(closed-loop async httpx clients, up to {args.requests} requests or {args.max_seconds:.0f} s per "
            "row) with distinct title queries, top_k=10, after a restart on the ingested data dir. "
            + f"While ingesting, the load average was {facts.get('load_average', '?')} and "
            f"{facts.get('upload_retries', 0)} upload requests were retried after a 5xx. "
            + (f"Ingestion figures {reused}." if reused else "")
        )
        body = section_header(f"Scale: {passages:,} passages in one collection", started, notes)
        body += "\n" + md_table(["scale", "value", ""], ingest_rows)
        body += "\n" + md_table(mem_head, mem_table)
        body += "\n" + md_table(lat_head, lat_rows)
        write_section("scale", body)


if __name__ == "__main__":
    main()
