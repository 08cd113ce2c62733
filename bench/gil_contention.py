"""Where embedding time went inside a busy server: the GIL hand-over of every torch operation.

Each torch call releases the GIL while it computes and must take it back before Python goes on. When
another thread is busy in Python (in the server: the event loop, request parsing, SQL writes), taking it
back waits up to the interpreter's switch interval (5 ms by default). An eager MiniLM forward makes
~100 such calls, so beside a busy thread one short query cost hundreds of milliseconds.

This script measures, in one run, one query embedding and a batch of 32 passages embedded in a worker
thread: eager (the transformers model op by op) against the TorchScript graphs ragworks runs, alone and
beside a pure-Python busy thread, at the default 5 ms and at the 1 ms that ``ragworks serve`` sets.
Prints a table, exits 0::

    .venv/bin/python bench/gil_contention.py            # ~4 min on 2 cores
    .venv/bin/python bench/gil_contention.py --docs     # also rewrite the 'gil' section of docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from _common import DATA, md_table, print_table, read_docs, section_header, write_section


@contextmanager
def busy_python_thread(enabled: bool) -> Iterator[None]:
    """A thread that keeps the interpreter busy (like a server's request and SQL work)."""
    stop = threading.Event()

    def spin() -> None:
        count = 0
        while not stop.is_set():
            count += 1

    thread = threading.Thread(target=spin, daemon=True)
    if enabled:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        if enabled:
            thread.join()


def timed_in_thread(work: Callable[[], None], repeats: int) -> float:
    """Median milliseconds of ``work`` run in a worker thread, as the server runs it."""
    samples: list[float] = []

    def run() -> None:
        for _ in range(repeats):
            started = time.perf_counter()
            work()
            samples.append((time.perf_counter() - started) * 1000)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=40, help="single-query passes per row")
    parser.add_argument("--batches", type=int, default=6, help="32-passage batches per row")
    parser.add_argument("--docs", action="store_true", help="rewrite the 'gil' section of the docs")
    args = parser.parse_args()
    started = time.time()

    import torch

    from ragworks.engines.embed.minilm import MiniLMEmbedder, padded_batch

    embedder = MiniLMEmbedder()
    embedder.start()
    docs = read_docs(DATA / "eval" / "scifact", 32)
    passages = [f"{d['title']}\n{d['text']}" for d in docs]
    query = "Do microRNAs regulate the immune response to viral infection?"
    query_ids = embedder._batch_tokenizer.encode(query).ids
    encodings = embedder._batch_tokenizer.encode_batch(passages)
    ids, mask = padded_batch(encodings)
    query_tensor = torch.tensor([query_ids])

    def eager_query() -> None:
        with torch.inference_mode():
            embedder._model(input_ids=query_tensor, attention_mask=torch.ones_like(query_tensor))

    def eager_batch() -> None:
        with torch.inference_mode():
            embedder._model(input_ids=ids, attention_mask=mask)

    def traced_query() -> None:
        assert embedder._query_encoder is not None
        embedder._query_encoder.encode([query_ids])

    def traced_batch() -> None:
        embedder._forward(encodings)

    cases: list[tuple[str, Callable[[], None], int]] = [
        ("one query", eager_query, args.queries),
        ("one query", traced_query, args.queries),
        ("32 passages", eager_batch, args.batches),
        ("32 passages", traced_batch, args.batches),
    ]
    rows: list[list[Any]] = []
    for label, work, repeats in cases:
        kind = "eager" if work in (eager_query, eager_batch) else "TorchScript (ragworks)"
        timed_in_thread(work, 2)  # warm-up
        row: list[Any] = [label, kind]
        for interval_ms, busy in ((5.0, False), (5.0, True), (1.0, True)):
            sys.setswitchinterval(interval_ms / 1000)
            with busy_python_thread(busy):
                row.append(f"{timed_in_thread(work, repeats):,.1f}")
        rows.append(row)
    sys.setswitchinterval(0.005)
    head = ["work", "forward", "alone ms", "beside busy thread, 5 ms ms", "beside busy thread, 1 ms ms"]
    print_table(head, rows)
    if args.docs:
        notes = (
            "Median milliseconds per pass, run in a worker thread. 'Beside busy thread' adds a thread "
            "spinning in pure Python, as a server's event loop and SQL writes do; the last column is at "
            "the 1 ms switch interval `ragworks serve` sets (`server.switch_interval_ms`). A busy thread "
            "also takes one of the two cores, so about twice the alone time is the fair share there."
        )
        body = section_header("Embedding beside a busy Python thread (the GIL)", started, notes)
        write_section("gil", body + "\n" + md_table(head, rows) + "\n")


if __name__ == "__main__":
    main()
