"""Ranking metrics: nDCG@k, recall@k, MRR (as BEIR / pytrec_eval compute them)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def ndcg_at_k(ranking: Sequence[str], judged: dict[str, int], k: int = 10) -> float:
    """Normalised discounted cumulative gain with graded relevance (linear gain, as pytrec_eval)."""
    dcg = sum(judged.get(doc, 0) / math.log2(rank + 2) for rank, doc in enumerate(ranking[:k]))
    ideal = sorted((g for g in judged.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(rank + 2) for rank, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranking: Sequence[str], judged: dict[str, int], k: int) -> float:
    """Share of relevant documents found in the first ``k``."""
    relevant = {doc for doc, grade in judged.items() if grade > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranking[:k])) / len(relevant)


def reciprocal_rank(ranking: Sequence[str], judged: dict[str, int], k: int = 100) -> float:
    """1 / rank of the first relevant document (0 when none in the first ``k``)."""
    for rank, doc in enumerate(ranking[:k], start=1):
        if judged.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0


def summarise(rankings: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> dict[str, float]:
    """Mean nDCG@10, recall@10, recall@100 and MRR over the judged queries."""
    names = ("ndcg@10", "recall@10", "recall@100", "mrr")
    totals = dict.fromkeys(names, 0.0)
    for query_id, judged in qrels.items():
        ranking = rankings.get(query_id, [])
        totals["ndcg@10"] += ndcg_at_k(ranking, judged, 10)
        totals["recall@10"] += recall_at_k(ranking, judged, 10)
        totals["recall@100"] += recall_at_k(ranking, judged, 100)
        totals["mrr"] += reciprocal_rank(ranking, judged)
    count = max(len(qrels), 1)
    return {name: round(value / count, 4) for name, value in totals.items()}
