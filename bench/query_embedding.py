"""A cheaper query embedding, kept only where ranking quality holds: torch (the product path) against
ONNX Runtime on the same MiniLM, fused fp32 and int8 (dynamic quantisation), in one run:

1. one query at a time: p50/p99 latency over SciFact test queries, with one thread (the product's
   query passes) and with every core (torch's default, the product's document batches); the variants
   take turns query by query, so a load change hits all of them alike;
2. passages/s on batches of 32 and of 256 SciFact passages (every core);
3. cosine agreement with the torch vectors (queries and passages);
4. nDCG@10 of vector search on the test splits of scifact, msmarco-subset and autorag-ko, queries
   embedded by each variant against documents embedded by torch (an existing collection), and for
   int8 also against documents embedded by int8.

A variant qualifies when it loses at most 0.003 nDCG@10 on every set and is at least 1.2 times as fast
per query at one thread. The ONNX graphs are built from the bundled weights at the start of the run
(``_onnx_export.py``); onnx and onnxruntime come from ``.bench/onnx-site``::

    make bench-query-embedding        # = .venv/bin/python bench/query_embedding.py --docs
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from _common import (
    BENCH_DIR,
    DATA,
    md_table,
    percentile,
    print_table,
    read_docs,
    section_header,
    write_section,
)
from _onnx_quality import EvalSet, document_vectors, file_digest, load_eval_set, mean_ndcg, query_vectors
from _onnx_session import OnnxEncoder, onnx_versions, use_bench_site
from ragworks.engines.embed.minilm import QUERY_THREADS, MiniLMEmbedder

WORK = BENCH_DIR / "query-embedding"
SETS = ("scifact", "msmarco-subset", "autorag-ko")
BATCHES = (32, 256)
MAX_NDCG_LOSS = 0.003
MIN_SPEEDUP = 1.2  # p50 per query at one thread, torch / variant
DOC_BATCH = 64  # the product's default embed batch
LABELS = {
    "torch": "torch (product path)",
    "onnx-option": "embed.query_backend = 'onnx' (product path)",
    "fp32": "ONNX Runtime fp32, fused (bare session)",
    "int8": "ONNX Runtime int8, dynamic (bare session)",
}
Vector = npt.NDArray[np.float32]


@dataclass
class Variant:
    """One way of embedding: a per-query function and a batch function for each thread count."""

    name: str
    one: dict[int, Callable[[str], Vector]]
    many: Callable[[Sequence[str], int], npt.NDArray[np.float32]] | None  # None: queries only
    latency_ms: dict[int, list[float]] = field(default_factory=dict)


def torch_variant(threads: Sequence[int]) -> tuple[Variant, MiniLMEmbedder]:
    """The product's embedder: ``embed_query`` (micro-batcher, packed encoder, no cache) and ``embed``."""
    by_threads = {}
    for count in threads:
        embedder = MiniLMEmbedder(batch_size=DOC_BATCH, query_cache=0, query_workers=1, query_threads=count)
        embedder.start()
        by_threads[count] = embedder
    documents = by_threads[max(threads)]

    def many(texts: Sequence[str], batch: int) -> npt.NDArray[np.float32]:
        documents.batch_size = batch
        return documents.embed(texts)

    return Variant("torch", {n: e.embed_query for n, e in by_threads.items()}, many), documents


def onnx_option_variant(folder: Path, threads: Sequence[int]) -> Variant:
    """The product's ``embed.query_backend = 'onnx'``: the same ``embed_query`` path on the fused graph."""
    by_threads = {}
    for count in threads:
        embedder = MiniLMEmbedder(
            query_cache=0, query_workers=1, query_threads=count, query_backend="onnx", onnx_dir=folder
        )
        embedder.start()
        by_threads[count] = embedder
    return Variant("onnx-option", {n: e.embed_query for n, e in by_threads.items()}, None)


def onnx_variant(name: str, graph: Path, threads: Sequence[int]) -> Variant:
    """An ONNX Runtime session per thread count; batches run on the one with the most threads."""
    sessions = {count: OnnxEncoder(graph, count) for count in threads}
    return Variant(name, {n: s.embed_query for n, s in sessions.items()}, sessions[max(threads)].embed)


def measure_latency(variants: list[Variant], queries: list[str], threads: int) -> dict[str, Vector]:
    """Per-query milliseconds into each variant's ``latency_ms[threads]``; returns the query vectors."""
    vectors: dict[str, list[Vector]] = {v.name: [] for v in variants}
    for v in variants:
        v.latency_ms[threads] = []
        for text in queries[:5]:
            v.one[threads](text + " warm-up")  # first calls allocate and start threads
    for number, text in enumerate(queries):
        turn = variants[number % len(variants) :] + variants[: number % len(variants)]
        for v in turn:
            started = time.perf_counter()
            vector = v.one[threads](text)
            v.latency_ms[threads].append((time.perf_counter() - started) * 1000)
            vectors[v.name].append(vector)
    return {name: np.stack(rows) for name, rows in vectors.items()}


def measure_throughput(variants: list[Variant], passages: list[str]) -> tuple[dict, dict[str, Vector]]:
    """Passages/s per (variant, batch size), and each variant's passage vectors at the first batch size."""
    rates: dict[tuple[str, int], float] = {}
    vectors: dict[str, Vector] = {}
    batched = [v for v in variants if v.many is not None]
    for v in batched:
        assert v.many is not None
        v.many(passages[:8], 8)  # warm-up
    for batch in BATCHES:
        for v in batched:
            assert v.many is not None
            started = time.perf_counter()
            out = v.many(passages, batch)
            rates[(v.name, batch)] = len(passages) / (time.perf_counter() - started)
            vectors.setdefault(v.name, out)
    return rates, vectors


def agreement(vectors: Vector, reference: Vector) -> str:
    """'mean / min cosine' of row pairs (rows are L2-normalised)."""
    cosine = (vectors * reference).sum(axis=1)
    return f"{cosine.mean():.5f} / {cosine.min():.5f}"


@dataclass
class Quality:
    """nDCG@10 per (query encoder, document encoder) and set."""

    pairs: list[tuple[str, str]]
    ndcg: dict[tuple[str, str, str], float] = field(default_factory=dict)

    def loss(self, pair: tuple[str, str], name: str) -> float:
        return self.ndcg[("torch", "torch", name)] - self.ndcg[(*pair, name)]


def measure_quality(variants: dict[str, Variant], graphs: dict[str, Path], sets: list[EvalSet]) -> Quality:
    """Every (query, document) encoder pair's nDCG@10 on every set; documents cached between runs."""
    import torch
    import transformers

    identity = {
        "torch": f"torch {torch.__version__}, transformers {transformers.__version__}",
        **{name: file_digest(graph) for name, graph in graphs.items()},
    }
    quality = Quality([("torch", "torch"), ("fp32", "torch"), ("int8", "torch"), ("int8", "int8")])
    for dataset in sets:
        documents = {
            encoder: document_vectors(
                dataset,
                encoder,
                identity[encoder],
                lambda texts, e=encoder: variants[e].many(texts, DOC_BATCH),  # type: ignore[misc]
                WORK / "vectors",
            )
            for encoder in {doc for _, doc in quality.pairs}
        }
        queries = {
            name: query_vectors(dataset, variants[name].one[1]) for name in {q for q, _ in quality.pairs}
        }
        for query_encoder, doc_encoder in quality.pairs:
            score = mean_ndcg(dataset, queries[query_encoder], documents[doc_encoder])
            quality.ndcg[(query_encoder, doc_encoder, dataset.name)] = score
        print(
            f"{dataset.name}: "
            + ", ".join(f"{k[0]}/{k[1]} {v:.4f}" for k, v in quality.ndcg.items() if k[2] == dataset.name)
        )
    return quality


def report(
    variants: list[Variant],
    threads: Sequence[int],
    query_agreement: dict[str, str],
    rates: dict[tuple[str, int], float],
    passage_agreement: dict[str, str],
    quality: Quality,
    sets: list[EvalSet],
    started: float,
    passages: int,
) -> str:
    """Tables (printed, and returned as markdown) and the verdict for each variant."""
    p50 = {(v.name, n): percentile(v.latency_ms[n], 50) for v in variants for n in threads}
    speed_head = ["variant"]
    for n in threads:
        speed_head += [f"p50 ms, {n} thr", f"p99 ms, {n} thr"]
    speed_head += [f"passages/s, batch {b}" for b in BATCHES] + ["cosine to torch: queries", "passages"]
    speed_rows = []
    for v in variants:
        row: list[object] = [LABELS[v.name]]
        for n in threads:
            row += [f"{p50[(v.name, n)]:.1f}", f"{percentile(v.latency_ms[n], 99):.1f}"]
        row += [f"{rates[(v.name, b)]:.1f}" if (v.name, b) in rates else "(torch)" for b in BATCHES]
        row += [query_agreement[v.name], passage_agreement.get(v.name, "(torch)")]
        speed_rows.append(row)
    quality_head = ["queries / documents", *[s.name for s in sets], "worst loss"]
    quality_rows = []
    verdicts = []
    for pair in quality.pairs:
        losses = [quality.loss(pair, s.name) for s in sets]
        cells = [f"{quality.ndcg[(*pair, s.name)]:.4f}" for s in sets]
        quality_rows.append(
            [f"{pair[0]} / {pair[1]}", *cells, f"{max(losses):+.4f}" if pair != ("torch", "torch") else ""]
        )
        if pair == ("torch", "torch"):
            continue
        # fp32 runs in the product as embed.query_backend = 'onnx': time it on that path, not bare
        speedup = p50[("torch", 1)] / p50[("onnx-option" if pair[0] == "fp32" else pair[0], 1)]
        keeps = max(losses) <= MAX_NDCG_LOSS
        fast = speedup >= MIN_SPEEDUP
        verdicts.append(
            f"- queries {pair[0]}, documents {pair[1]}: worst nDCG@10 loss {max(losses):+.4f} "
            f"({'within' if keeps else '**over**'} {MAX_NDCG_LOSS}), {speedup:.2f}x torch's p50 per query at one "
            f"thread: **{'qualifies' if keeps and fast else 'does not qualify'}**"
        )
    print()
    print_table(speed_head, speed_rows)
    print()
    print_table(quality_head, quality_rows)
    print("\n" + "\n".join(verdicts))
    counts = ", ".join(f"{s.name} {len(s.query_ids)} queries / {len(s.doc_ids):,} documents" for s in sets)
    notes = (
        f"{onnx_versions()} (bench-only, in `.bench/onnx-site`). Latency: {len(variants[0].latency_ms[1])} "
        f"SciFact test queries, one at a time, variants taking turns query by query; torch is the product's "
        f"`embed_query` (micro-batcher, packed encoder; query cache off), ONNX a batch-1 session run; both include "
        f"tokenisation. {threads[0]} thread = the product's query passes (`QUERY_THREADS = {QUERY_THREADS}`), "
        f"{threads[-1]} threads = torch's default (the product's document batches). Throughput: {passages} "
        f"SciFact passages (title + abstract, truncated at 256 tokens), longest first, every core. nDCG@10: exact "
        f"cosine search over whole documents (one vector each, no chunking, no keyword leg), so absolute values are "
        f"not `ragworks eval`'s; the differences between encoders are the point. Sets: {counts}."
    )
    return (
        section_header("Query embedding: torch against ONNX Runtime fp32 and int8", started, notes)
        + "\n"
        + md_table(speed_head, speed_rows)
        + "\n"
        + md_table(quality_head, quality_rows)
        + "\n"
        + "\n".join(verdicts)
        + "\n"
    )


def main(queries: int, passages: int, set_names: Sequence[str], docs: bool) -> None:
    started = time.time()
    use_bench_site()
    from _onnx_export import build_models

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    threads = sorted({1, os.cpu_count() or 1})
    models = build_models(WORK / "onnx")
    torch, _ = torch_variant(threads)
    variants = [
        torch,
        onnx_option_variant(models.fp32.parent, threads),
        onnx_variant("fp32", models.fp32, threads),
        onnx_variant("int8", models.int8, threads),
    ]
    scifact = load_eval_set(DATA / "eval" / "scifact")
    texts = scifact.query_texts[:queries]
    query_agreement: dict[str, str] = {}
    for n in threads:
        vectors = measure_latency(variants, texts, n)
        if n == 1:
            query_agreement = {name: agreement(v, vectors["torch"]) for name, v in vectors.items()}
        print(
            f"latency at {n} thread(s): "
            + ", ".join(f"{v.name} p50 {percentile(v.latency_ms[n], 50):.1f} ms" for v in variants)
        )
    corpus = [f"{d['title']}\n{d['text']}" for d in read_docs(DATA / "eval" / "scifact", limit=passages)]
    rates, passage_vectors = measure_throughput(variants, corpus)
    passage_agreement = {name: agreement(v, passage_vectors["torch"]) for name, v in passage_vectors.items()}
    sets = [scifact if name == "scifact" else load_eval_set(DATA / "eval" / name) for name in set_names]
    by_name = {v.name: v for v in variants}
    quality = measure_quality(by_name, {"fp32": models.fp32, "int8": models.int8}, sets)
    body = report(
        variants, threads, query_agreement, rates, passage_agreement, quality, sets, started, passages
    )
    if docs:
        write_section("query-embedding", body)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--queries", type=int, default=300, help="SciFact test queries timed (300 = all)")
    parser.add_argument("--passages", type=int, default=256, help="SciFact passages per throughput row")
    parser.add_argument("--sets", nargs="+", default=list(SETS), help="evaluation sets (default: all three)")
    parser.add_argument("--docs", action="store_true", help="rewrite the section of docs/benchmarks.md")
    args = parser.parse_args()
    main(args.queries, args.passages, args.sets, args.docs)
