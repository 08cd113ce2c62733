"""How the best hybrid vector weight moves with the embedder's confidence, and the rule fitted to it.

For each query of a split, both legs are searched once (the top 300 chunks each, as ``ragworks eval``
ranks); then, offline: queries are cut into five groups by the cosine of their best vector match and
nDCG@10 is printed per group and fixed weight, and the rule ``weight = w0 + slope × (best cosine − 0.6)``,
within 0.1–0.9 (``search.weight_by_confidence``), is searched over a grid. Fit on a training split only::

    .venv/bin/ragworks eval ../shared/data/eval/scifact --split train --data-dir /tmp/eval-scifact
    .venv/bin/python bench/tune_confidence.py ../shared/data/eval/scifact /tmp/eval-scifact
    .venv/bin/python bench/tune_confidence.py ../shared/data/eval/msmarco-subset .bench/eval-msmarco-subset \\
        --split test --rule 0.5 1.75      # a diagnostic on test queries: the fitted rule, nothing chosen
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ragworks.config import Settings
from ragworks.engines.embed.base import submit_query
from ragworks.engines.index.base import Hit
from ragworks.evaluation.beir import load_dataset
from ragworks.evaluation.metrics import ndcg_at_k
from ragworks.roles.embedded import build_embedded
from ragworks.services.fusion import minmax_fusion

POOL = 300
CENTER = 0.6
WEIGHTS = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0)
GRID_W0 = (0.4, 0.45, 0.5, 0.55, 0.6)
GRID_SLOPE = (1.0, 1.25, 1.5, 1.75, 2.0, 2.5)


@dataclass(frozen=True)
class Legs:
    keyword: list[Hit]
    vector: list[Hit]
    documents: dict[int, str]  # chunk key -> document id
    judged: dict[str, int]

    @property
    def best_cosine(self) -> float:
        return max((h.score for h in self.vector), default=0.0)

    def ndcg(self, weight: float) -> float:
        if weight >= 1.0:
            fused = {h.key: h.score for h in self.vector}
        elif weight <= 0.0:
            fused = {h.key: h.score for h in self.keyword}
        else:
            fused = minmax_fusion(self.keyword, self.vector, weight)
        ranking: list[str] = []
        for key, _ in sorted(fused.items(), key=lambda kv: kv[1], reverse=True):
            if (document := self.documents[key]) not in ranking:
                ranking.append(document)
            if len(ranking) == 10:
                break
        return ndcg_at_k(ranking, self.judged)


async def search_legs(dataset_dir: Path, data_dir: Path, split: str) -> list[Legs]:
    """Both legs of every English query of the split, on the index ``ragworks eval`` built."""
    dataset = load_dataset(dataset_dir, split)
    container = build_embedded(Settings(data_dir=data_dir, log_json=False))
    await container.start(workers=False)
    retriever = container.retriever
    found: list[Legs] = []
    try:
        for query_id, text in dataset.queries.items():
            if retriever.analyzer.language_of(text) not in retriever.embedder.languages:
                continue  # those get no vector weight at all
            keyword = retriever.index.keyword_search("eval", retriever.analyzer.tokens(text), POOL, None)
            vector = retriever.index.vector_search(
                "eval", submit_query(retriever.embedder, text).result(), POOL, None
            )
            chunks = retriever.chunk_store.lookup(list({h.key for h in keyword} | {h.key for h in vector}))
            documents = {key: document.id for key, (_, document) in chunks.items()}
            found.append(
                Legs(
                    [h for h in keyword if h.key in documents],
                    [h for h in vector if h.key in documents],
                    documents,
                    dataset.qrels[query_id],
                )
            )
    finally:
        await container.stop()
    return found


def rule(w0: float, slope: float) -> Callable[[Legs], float]:
    return lambda legs: min(0.9, max(0.1, w0 + slope * (legs.best_cosine - CENTER)))


def fixed(weight: float) -> Callable[[Legs], float]:
    return lambda _legs: weight


def mean_ndcg(queries: list[Legs], weight_of: Callable[[Legs], float]) -> float:
    return statistics.fmean(q.ndcg(weight_of(q)) for q in queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset_dir", type=Path)
    parser.add_argument("data_dir", type=Path, help="data dir of a finished `ragworks eval --data-dir` run")
    parser.add_argument("--split", default="train")
    parser.add_argument(
        "--rule", nargs=2, type=float, metavar=("W0", "SLOPE"), help="evaluate this rule only"
    )
    args = parser.parse_args()
    queries = asyncio.run(search_legs(args.dataset_dir, args.data_dir, args.split))
    print(
        f"{args.dataset_dir.name}, split '{args.split}', {len(queries)} queries in a language the embedder reads"
    )
    ordered = sorted(queries, key=lambda q: q.best_cosine)
    print("\nnDCG@10 by best-match cosine (fifths of the queries) and fixed vector weight")
    print(f"{'best cosine':<13}" + "".join(f"{w:>7.1f}" for w in WEIGHTS))
    for fifth in range(5):
        part = ordered[fifth * len(ordered) // 5 : (fifth + 1) * len(ordered) // 5]
        span = f"{part[0].best_cosine:.2f}-{part[-1].best_cosine:.2f}"
        print(f"{span:<13}" + "".join(f"{mean_ndcg(part, fixed(w)):>7.3f}" for w in WEIGHTS))
    print(
        "\nall queries, fixed: " + ", ".join(f"{w:.1f} {mean_ndcg(queries, fixed(w)):.4f}" for w in WEIGHTS)
    )
    if args.rule:
        w0, slope = args.rule
        print(f"rule w0 {w0} slope {slope}: nDCG@10 {mean_ndcg(queries, rule(w0, slope)):.4f}")
        return
    print(f"\nrule weight = w0 + slope × (best cosine − {CENTER}), within 0.1–0.9: nDCG@10")
    print("w0 / slope".ljust(12) + "".join(f"{s:>8}" for s in GRID_SLOPE))
    best = (0.0, 0.0, 0.0)
    for w0 in GRID_W0:
        scores = [mean_ndcg(queries, rule(w0, s)) for s in GRID_SLOPE]
        best = max(best, *((score, w0, s) for score, s in zip(scores, GRID_SLOPE, strict=True)))
        print(f"{w0:<12}" + "".join(f"{score:>8.4f}" for score in scores))
    print(f"\nbest: w0 {best[1]}, slope {best[2]}: nDCG@10 {best[0]:.4f}")


if __name__ == "__main__":
    main()
