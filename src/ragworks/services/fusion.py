"""Fusing the keyword and vector legs of hybrid search.

Three ways to put BM25 scores (unbounded, corpus-dependent) and cosine similarities on one scale:
min-max (each leg's hits spread over [0, 1]), z-score (distance from the leg's mean in standard
deviations, so one outlier does not squash the rest) and reciprocal rank fusion (ranks only). Each is a
weighted sum with ``vector_weight`` on the vector leg; which one and which weight suit a collection is
chosen per collection by ``services/calibration.py``.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence

from ragworks.engines.index.base import Hit

RRF_K = 60

Fusion = Callable[[Sequence[Hit], Sequence[Hit], float], dict[int, float]]


def minmax_fusion(keyword: Sequence[Hit], vector: Sequence[Hit], vector_weight: float) -> dict[int, float]:
    """Weighted sum of min-max normalised scores; a key missing from a leg scores 0 there."""
    fused: dict[int, float] = {}
    for hits, weight in ((keyword, 1.0 - vector_weight), (vector, vector_weight)):
        if not hits or weight <= 0:
            continue
        scores = [h.score for h in hits]
        low, high = min(scores), max(scores)
        span = high - low
        for hit in hits:
            normalised = (hit.score - low) / span if span > 0 else 1.0
            fused[hit.key] = fused.get(hit.key, 0.0) + weight * normalised
    return fused


def zscore_fusion(keyword: Sequence[Hit], vector: Sequence[Hit], vector_weight: float) -> dict[int, float]:
    """Weighted sum of z-scores; a key missing from a leg gets that leg's lowest z-score.

    Scores are shifted so the lowest fused value of each leg is 0, which keeps a key found by one leg
    only comparable with keys found by both, as with min-max.
    """
    fused: dict[int, float] = {}
    for hits, weight in ((keyword, 1.0 - vector_weight), (vector, vector_weight)):
        if not hits or weight <= 0:
            continue
        scores = [h.score for h in hits]
        mean = statistics.fmean(scores)
        spread = statistics.pstdev(scores, mean)
        low = min(scores)
        for hit in hits:
            normalised = (hit.score - low) / spread if spread > 0 else 1.0
            fused[hit.key] = fused.get(hit.key, 0.0) + weight * normalised
    return fused


def rrf_fusion(
    keyword: Sequence[Hit], vector: Sequence[Hit], vector_weight: float, k: int = RRF_K
) -> dict[int, float]:
    """Weighted reciprocal rank fusion: Σ weight / (k + rank)."""
    fused: dict[int, float] = {}
    for hits, weight in ((keyword, 1.0 - vector_weight), (vector, vector_weight)):
        if weight <= 0:
            continue
        for rank, hit in enumerate(hits, start=1):
            fused[hit.key] = fused.get(hit.key, 0.0) + weight / (k + rank)
    return fused


FUSIONS: dict[str, Fusion] = {
    "minmax": minmax_fusion,
    "zscore": zscore_fusion,
    "rrf": rrf_fusion,
}


def fuse(
    normalisation: str, keyword: Sequence[Hit], vector: Sequence[Hit], vector_weight: float
) -> dict[int, float]:
    """Fused score of every key either leg found; a weight of 0 or 1 is that leg's own scores."""
    if vector_weight >= 1.0:
        return {h.key: h.score for h in vector}
    if vector_weight <= 0.0:
        return {h.key: h.score for h in keyword}
    return FUSIONS[normalisation](keyword, vector, vector_weight)
