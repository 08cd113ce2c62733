"""Ingestion throughput and retrieve latency on SciFact, measured side by side in one run.

(a) the raw embedder alone on the same chunk texts the pipeline embeds, (b) the full pipeline (accepted
as JSON documents → jobs → parse, chunk, analyze, embed, index → ready), both in passages/s and chunks/s;
then in-process retrieve latency per mode on the ingested collection. Prints a table, exits 0::

    .venv/bin/python bench/ingest_and_query.py --limit 1000
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import tempfile
import time
from pathlib import Path

from ragworks.config import Settings
from ragworks.container import Container
from ragworks.evaluation.beir import load_dataset, read_corpus
from ragworks.evaluation.runner import ingest_corpus
from ragworks.ingest.chunking import Chunker
from ragworks.ingest.parsers import parse_document
from ragworks.ingest.parsers.base import ParseLimits
from ragworks.services.retrieve_models import RetrieveInput

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "eval" / "scifact"


def _limited_corpus(limit: int, target: Path) -> None:
    """A BEIR folder holding the first ``limit`` SciFact documents (in a temp dir, never the repo)."""
    target.mkdir(parents=True, exist_ok=True)
    with (DATA / "corpus.jsonl").open() as source, (target / "corpus.jsonl").open("w") as out:
        out.writelines(itertools.islice(source, limit))


def _chunk_texts(container: Container, root: Path) -> tuple[int, list[str]]:
    """The texts the pipeline embeds for this corpus (title line + chunk), to feed the raw embedder."""
    chunker = Chunker(container.embedder.count_tokens)
    texts: list[str] = []
    docs = list(read_corpus(root))
    for doc in docs:
        parsed = parse_document(doc.text.encode(), "document.txt", ParseLimits())
        texts += [f"{doc.title}\n{d.text}" for d in chunker.chunk(parsed)]
    return len(docs), texts


async def main(limit: int, queries: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        corpus = Path(scratch) / "corpus"
        _limited_corpus(limit, corpus)
        container = Container(Settings(data_dir=Path(scratch) / "data", log_json=False))
        await container.start(workers=True)
        try:
            passages, texts = _chunk_texts(container, corpus)
            started = time.perf_counter()
            container.embedder.embed(texts)
            raw_s = time.perf_counter() - started
            container.store.create_collection("bench", "auto", "")
            pipeline_s = await ingest_corpus(container, "bench", corpus, lambda _d, _t: None)
            print(f"SciFact first {passages} passages → {len(texts)} chunks; 2-core machine, one run")
            print(f"{'path':<28}{'seconds':>10}{'passages/s':>12}{'chunks/s':>10}")
            for name, seconds in (
                ("raw embedder (chunk texts)", raw_s),
                ("full pipeline (to ready)", pipeline_s),
            ):
                print(f"{name:<28}{seconds:>10.1f}{passages / seconds:>12.1f}{len(texts) / seconds:>10.1f}")
            print(f"pipeline / raw embedder: {raw_s / pipeline_s:.2f}x")
            _latency(container, queries)
        finally:
            await container.stop()


def _latency(container: Container, count: int) -> None:
    dataset = load_dataset(DATA, "test")
    texts = list(dataset.queries.values())[:count]
    print(f"\nretrieve latency, in-process, {len(texts)} SciFact test queries, top_k=10, one client")
    print(f"{'mode':<10}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}")
    for mode in ("keyword", "vector", "hybrid"):
        samples = []
        for text in texts:
            request = RetrieveInput(query=text, collections=["bench"], top_k=10, mode=mode)
            started = time.perf_counter()
            container.retriever.retrieve(request)
            samples.append((time.perf_counter() - started) * 1000)
        cuts = statistics.quantiles(samples, n=100)
        print(f"{mode:<10}{cuts[49]:>10.2f}{cuts[94]:>10.2f}{cuts[98]:>10.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=1000, help="SciFact passages to ingest")
    parser.add_argument("--queries", type=int, default=300, help="test queries to time")
    args = parser.parse_args()
    asyncio.run(main(args.limit, args.queries))
