"""Documents per second through Redis Streams against the same documents through HTTP upload.

One `ragworks serve --streams` process (embedded engines) and one Redis server (Debian's redis-server);
the same SciFact passages go in twice per round, into two collections: as JSON upload batches of 250
over HTTP, and as one message each on a Redis stream. Two figures per path: the intake rate (documents
accepted per second: rows and jobs committed, what a producer waits for) and the end-to-end rate (until
every document is ready). Rounds alternate the order; the medians are reported.

    python bench/streams.py --docs
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from _common import (
    BENCH_DIR,
    DATA,
    Server,
    batched,
    free_port,
    job_counts,
    md_table,
    print_table,
    read_docs,
    section_header,
    write_section,
)
from ragworks.engines.streams.providers import open_publisher

ROOT = BENCH_DIR / "streams"
STREAM = "bench.documents"


@contextmanager
def redis() -> Iterator[str]:
    """A Redis server without persistence on a free port."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="bench-redis-"))
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while subprocess.run(
            ["redis-cli", "-p", str(port), "ping"], capture_output=True, check=False
        ).returncode:
            if time.monotonic() > deadline:
                raise SystemExit("redis-server did not start")
            time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def count_documents(client: httpx.Client, collection: str) -> int:
    response = client.get(f"/v1/collections/{collection}")
    return int(response.json()["document_count"]) if response.status_code == 200 else 0


def wait_idle(client: httpx.Client) -> None:
    while True:
        counts = job_counts(client)
        if counts.get("dead"):
            raise SystemExit(f"ingest jobs died: {counts}")
        if not sum(counts.get(s, 0) for s in ("queued", "running", "failed")):
            return
        time.sleep(0.25)


def through_http(
    client: httpx.Client, collection: str, documents: list[dict[str, Any]]
) -> tuple[float, float]:
    """(accepted/s, ready/s) for JSON upload batches of 250."""
    client.post("/v1/collections", json={"name": collection}).raise_for_status()
    started = time.perf_counter()
    for part in batched(documents, 250):
        response = client.post(f"/v1/collections/{collection}/documents", json={"documents": part})
        if response.status_code != 202:
            raise SystemExit(f"upload failed: {response.status_code} {response.text[:300]}")
    accepted = time.perf_counter() - started
    wait_idle(client)
    return len(documents) / accepted, len(documents) / (time.perf_counter() - started)


def through_stream(
    client: httpx.Client, url: str, collection: str, documents: list[dict[str, Any]]
) -> tuple[float, float]:
    """(accepted/s, ready/s) for one message per document on the stream the server consumes."""

    async def publish() -> None:
        publisher = open_publisher(url)
        await publisher.start()
        try:
            for document in documents:
                await publisher.publish(STREAM, json.dumps({**document, "collection": collection}).encode())
        finally:
            await publisher.close()

    started = time.perf_counter()
    asyncio.run(publish())
    while count_documents(client, collection) < len(documents):
        time.sleep(0.02)
    accepted = time.perf_counter() - started
    wait_idle(client)
    return len(documents) / accepted, len(documents) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=2000, help="SciFact passages per run")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--docs", action="store_true", help="rewrite the 'streams' section of the docs")
    args = parser.parse_args()
    started = time.time()
    documents = read_docs(DATA / "eval" / "scifact")[: args.limit]
    shutil.rmtree(ROOT, ignore_errors=True)
    ROOT.mkdir(parents=True)
    results: dict[str, list[tuple[float, float]]] = {
        "HTTP upload (JSON batches of 250)": [],
        "Redis Streams": [],
    }
    with redis() as url:
        streams = ROOT / "streams.toml"
        streams.write_text(
            f'[consumer]\nbatch = 250\n[[sources]]\nurl = "{url}"\nstream = "{STREAM}"\n'
            'collection = "unused"\ncreate_collection = false\n[sources.fields]\ncollection = "collection"\n'
        )
        env = {"RAGWORKS_LLM__PROVIDER": "extractive"}
        with (
            Server(ROOT / "data", env=env, args=["--streams", str(streams)]) as server,
            httpx.Client(base_url=server.url, timeout=600) as client,
        ):
            for n in range(args.rounds):
                order = ["http", "stream"] if n % 2 == 0 else ["stream", "http"]
                for path in order:
                    collection = f"{path}-{n}"
                    print(f"round {n + 1}: {path}, {len(documents):,} passages ...", flush=True)
                    if path == "http":
                        results["HTTP upload (JSON batches of 250)"].append(
                            through_http(client, collection, documents)
                        )
                    else:
                        client.post("/v1/collections", json={"name": collection}).raise_for_status()
                        results["Redis Streams"].append(through_stream(client, url, collection, documents))
    head = ["path", "accepted docs/s", "ready docs/s", "vs HTTP (accepted)", "vs HTTP (ready)"]
    http = results["HTTP upload (JSON batches of 250)"]
    base_accept = statistics.median(a for a, _ in http)
    base_ready = statistics.median(r for _, r in http)
    rows = []
    for name, runs in results.items():
        accept, ready = statistics.median(a for a, _ in runs), statistics.median(r for _, r in runs)
        rows.append(
            [
                name,
                f"{accept:.0f}",
                f"{ready:.1f}",
                f"{accept / base_accept:.2f}x",
                f"{ready / base_ready:.2f}x",
            ]
        )
    print()
    print_table(head, rows)
    if args.docs:
        notes = (
            f"{len(documents):,} SciFact passages per run, {args.rounds} rounds alternating the order, medians; "
            "one `ragworks serve --streams` process (embedded engines, in-process consumer and workers) and one "
            "Redis server, on the same 2 cores. Accepted = every document's row and job committed (for the "
            "stream: counted from the collection); ready = every ingest job finished."
        )
        body = section_header("Documents through Redis Streams against HTTP upload", started, notes)
        body += "\n" + md_table(head, rows)
        write_section("streams", body)


if __name__ == "__main__":
    main()
