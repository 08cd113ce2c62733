"""Choosing a collection's hybrid fusion without labels, from pseudo-queries of its own documents.

Every candidate fusion (normalisation x vector weight) ranks the documents of every pseudo-query; the
one whose rankings put the source document highest (mean nDCG@10) is kept. A collection too small to
say, or whose text the embedder cannot read, keeps the configured defaults. It is chosen again once the
collection has grown by ``calibration_growth`` since (``calibration_due``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from ragworks.config import SearchSettings
from ragworks.domain import Collection, FusionCalibration, FusionCandidate
from ragworks.engines.embed.base import Embedder
from ragworks.engines.index.base import SearchIndex
from ragworks.engines.store.base import ChunkStore, MetadataStore
from ragworks.ingest.analysis import Analyzer
from ragworks.services.fusion import FUSIONS, fuse
from ragworks.services.pseudo_queries import PseudoQuery, draw_pseudo_queries

WEIGHTS = tuple(round(0.1 * step, 1) for step in range(11))
CUTOFF = 10  # nDCG@10, as the evaluation reports
DEPTH = 100  # hits per leg, as retrieval's default ``candidates``


def calibration_due(collection: Collection, settings: SearchSettings) -> bool:
    """Whether the collection is big enough and has no calibration or has grown enough since its last."""
    if not settings.calibrate or collection.document_count < settings.calibration_min_documents:
        return False
    if collection.fusion is None:
        return True
    return collection.document_count >= collection.fusion.document_count * (1.0 + settings.calibration_growth)


def score_candidates(queries: Sequence[PseudoQuery]) -> list[FusionCandidate]:
    """Mean nDCG@10 of the source document over ``queries`` for every normalisation and weight."""
    candidates: list[FusionCandidate] = []
    for normalisation in FUSIONS:
        for weight in WEIGHTS:
            total = sum(_ndcg(query, normalisation, weight) for query in queries)
            score = total / len(queries) if queries else 0.0
            candidates.append(FusionCandidate(normalisation, weight, round(score, 4)))
    return candidates


def choose(candidates: Sequence[FusionCandidate], settings: SearchSettings) -> FusionCandidate:
    """The best candidate; ties go to the configured default, then to the weight nearest it."""
    default = (settings.fusion, settings.vector_weight)
    return max(
        candidates,
        key=lambda c: (
            c.score,
            (c.normalisation, c.vector_weight) == default,
            -abs(c.vector_weight - settings.vector_weight),
        ),
    )


def _ndcg(query: PseudoQuery, normalisation: str, weight: float) -> float:
    fused = fuse(normalisation, query.keyword, query.vector, weight)
    seen: set[str] = set()
    for key, _ in sorted(fused.items(), key=lambda kv: kv[1], reverse=True):
        document = query.documents[key]
        if document in seen:
            continue
        seen.add(document)
        if document == query.document_id:
            return 1.0 / math.log2(len(seen) + 1)
        if len(seen) >= CUTOFF:
            break
    return 0.0


@dataclass(slots=True)
class Calibrator:
    """Calibrates collections with the same engines retrieval uses, and records the choice."""

    store: MetadataStore
    chunk_store: ChunkStore
    index: SearchIndex
    analyzer: Analyzer
    embedder: Embedder
    settings: SearchSettings

    def calibrate(self, name: str) -> FusionCalibration:
        """Choose the collection's fusion now, record it and return it."""
        collection = self.store.get_collection(name)
        chosen = self.choose_for(name, collection.document_count)
        self.store.set_fusion_calibration(name, chosen)
        return chosen

    def calibrate_if_due(self, name: str) -> FusionCalibration | None:
        """``calibrate`` when ``calibration_due`` says so; None otherwise."""
        if calibration_due(self.store.get_collection(name), self.settings):
            return self.calibrate(name)
        return None

    def choose_for(self, name: str, document_count: int) -> FusionCalibration:
        """The calibration of collection ``name`` (not recorded)."""
        now = time.time()
        if document_count < self.settings.calibration_min_documents:
            reason = f"defaults: fewer than {self.settings.calibration_min_documents} documents"
            return self._defaults(reason, now, document_count)
        queries = draw_pseudo_queries(
            name,
            self.settings.calibration_pseudo_queries,
            chunk_store=self.chunk_store,
            index=self.index,
            analyzer=self.analyzer,
            embedder=self.embedder,
            depth=max(self.settings.candidates, DEPTH),
        )
        if len(queries) < self.settings.calibration_pseudo_queries // 4:
            reason = f"defaults: {len(queries)} pseudo-queries in a language the embedder reads"
            return self._defaults(reason, now, document_count)
        candidates = score_candidates(queries)
        best = choose(candidates, self.settings)
        return FusionCalibration(
            normalisation=best.normalisation,
            vector_weight=best.vector_weight,
            method="pseudo-queries",
            pseudo_queries=len(queries),
            calibrated_at=now,
            document_count=document_count,
            candidates=tuple(candidates),
        )

    def _defaults(self, method: str, now: float, document_count: int) -> FusionCalibration:
        return FusionCalibration(
            normalisation=self.settings.fusion,
            vector_weight=self.settings.vector_weight,
            method=method,
            pseudo_queries=0,
            calibrated_at=now,
            document_count=document_count,
        )
