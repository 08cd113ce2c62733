"""Fusing the keyword and vector legs of hybrid search."""

from __future__ import annotations

from collections.abc import Sequence

from ragworks.engines.index.base import Hit


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


def rrf_fusion(
    keyword: Sequence[Hit], vector: Sequence[Hit], vector_weight: float, k: int = 60
) -> dict[int, float]:
    """Weighted reciprocal rank fusion: Σ weight / (k + rank)."""
    fused: dict[int, float] = {}
    for hits, weight in ((keyword, 1.0 - vector_weight), (vector, vector_weight)):
        if weight <= 0:
            continue
        for rank, hit in enumerate(hits, start=1):
            fused[hit.key] = fused.get(hit.key, 0.0) + weight / (k + rank)
    return fused
