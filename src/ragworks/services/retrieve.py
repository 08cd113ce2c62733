"""The retrieve service: hybrid BM25 + vector search over one or more collections."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import anyio

from ragworks.config import SearchSettings
from ragworks.domain import ChunkRecord, Document, FieldFilter
from ragworks.engines.embed.base import Embedder, EmbeddingModelMismatch, same_model, submit_query
from ragworks.engines.index.base import Hit, SearchIndex, Vector
from ragworks.engines.store.base import ChunkStore, MetadataStore
from ragworks.errors import NotFound
from ragworks.ingest.analysis import Analyzer
from ragworks.services.fusion import fuse, rrf_fusion
from ragworks.services.highlight import Highlighter
from ragworks.services.retrieve_models import RetrieveHit, RetrieveInput, RetrieveOutput, SortSpec

NARROW_MARGIN = 8  # extra keyword hits fetched beyond the page in keyword-only searches
KEYWORD_LANES = 2  # keyword searches run at once (each is CPU-bound; this machine class has 2 cores)
LEAST_WEIGHT, MOST_WEIGHT = 0.1, 0.9  # a confidence-moved weight leaves each leg a say


def parse_filters(raw: dict[str, Any] | None) -> list[FieldFilter]:
    """Filters from the request shape: value = eq, list = in, {op: value} = operators."""
    result: list[FieldFilter] = []
    for name, condition in (raw or {}).items():
        if isinstance(condition, dict):
            result.extend(FieldFilter(name, op, value) for op, value in condition.items())
        elif isinstance(condition, list):
            result.append(FieldFilter(name, "in", condition))
        else:
            result.append(FieldFilter(name, "eq", condition))
    return result


@dataclass(slots=True)
class Retriever:
    """Runs retrieval; blocking work goes to a thread so the event loop stays free.

    The query's embedding starts first and is computed (batched with concurrent queries, see
    ``engines/embed``) while this thread analyses the query and runs the keyword leg.
    """

    store: MetadataStore
    chunk_store: ChunkStore
    index: SearchIndex
    analyzer: Analyzer
    embedder: Embedder
    settings: SearchSettings
    _highlighter: Highlighter = field(init=False, repr=False)
    _keyword_lanes: tuple[asyncio.AbstractEventLoop, anyio.CapacityLimiter] | None = field(
        default=None, init=False, repr=False
    )

    def __post_init__(self) -> None:
        self._highlighter = Highlighter(self.analyzer)

    async def run(self, request: RetrieveInput) -> RetrieveOutput:
        """Answer one retrieve request.

        Keyword searches are CPU work from start to end: more of them at once than there are cores only
        makes threads take the interpreter lock from each other, so they take turns (``KEYWORD_LANES``)
        while searches that wait for a query embedding keep the thread pool's wider limit.
        """
        if request.mode != "keyword":
            return await anyio.to_thread.run_sync(self.retrieve, request)
        loop = asyncio.get_running_loop()
        if self._keyword_lanes is None or self._keyword_lanes[0] is not loop:  # one per event loop
            self._keyword_lanes = (loop, anyio.CapacityLimiter(KEYWORD_LANES))
        return await anyio.to_thread.run_sync(self.retrieve, request, limiter=self._keyword_lanes[1])

    def retrieve(self, request: RetrieveInput) -> RetrieveOutput:
        """Synchronous retrieval (also used in-process by the CLI and the evaluator)."""
        started = time.perf_counter()
        missing = self.chunk_store.missing_collection(request.collections)  # NotFound before any work
        if missing is not None:
            raise NotFound(f"collection '{missing}' does not exist")
        filters = parse_filters(request.filters)
        language = self.analyzer.language_of(request.query)
        normalisation, weight, adapt = self._fusion(request, language)
        need = request.offset + request.top_k
        pool = max(self.settings.candidates, need)
        pending: Future[Vector] | None = None
        if weight > 0.0:
            pending = submit_query(self.embedder, request.query)
            self._require_same_model(request.collections, pending)
        tokens = self.analyzer.tokens(request.query) if weight < 1.0 else []
        allowed = (
            {name: self.chunk_store.served_keys(name, filters) for name in request.collections}
            if filters
            else {}
        )
        sorting = request.sort is not None and request.sort.by != "score"
        # Keyword only, by score: BM25's top ``need`` are the first ``need`` of its top ``pool``, so
        # fetch a few more than needed (tantivy prunes more with a smaller top-k) and the whole pool
        # only if hits that searches may not see (a version being swapped) left the page short.
        # One collection only: across several, one collection's unseen hits could let another's
        # weaker ones fill the page unnoticed.
        narrow = (
            weight <= 0.0 and not sorting and len(request.collections) == 1 and need + NARROW_MARGIN < pool
        )
        keyword_hits, keyword_full = self._keyword_leg(
            request.collections, tokens, need + NARROW_MARGIN if narrow else pool, allowed
        )
        vector_hits: list[Hit] = []
        if pending is not None:
            vector = pending.result()  # EmbedderUnavailable (503) when a model service is down
            for name in request.collections:
                vector_hits += self.index.vector_search(name, vector, pool, allowed.get(name))
            if adapt and vector_hits:
                weight = self._by_confidence(weight, max(h.score for h in vector_hits))
        hits = self._rank(keyword_hits, vector_hits, normalisation, weight, pool if sorting else need)
        if narrow and keyword_full and len(hits) < need:
            keyword_hits, _ = self._keyword_leg(request.collections, tokens, pool, allowed)
            hits = self._rank(keyword_hits, vector_hits, normalisation, weight, need)
        if sorting and request.sort is not None:
            hits = _sort_by_metadata(hits, request.sort)
        page = hits[request.offset : need]
        marks: list[list[str] | None] = [None] * len(page)
        if request.highlight and tokens:
            marks = list(
                self._highlighter.highlight_many([chunk.text for (chunk, _), _ in page], set(tokens))
            )
        results = [
            self._hit(chunk, document, score, mark)
            for ((chunk, document), score), mark in zip(page, marks, strict=True)
        ]
        took = (time.perf_counter() - started) * 1000
        return RetrieveOutput(
            results=results,
            took_ms=round(took, 3),
            mode=request.mode,
            query_language=language,
            vector_weight=weight,
        )

    def _require_same_model(self, collections: Sequence[str], pending: Future[Vector]) -> None:
        """Refuse a vector search over a collection whose vectors another model made (while the
        query embeds: the check costs one indexed read).

        Raises:
            EmbeddingModelMismatch: naming the collection's model and this embedder's.
        """
        own = (self.embedder.name, self.embedder.dimension)
        for name, recorded in self.store.embedding_models(collections).items():
            if recorded is not None and not same_model(recorded, *own):
                pending.cancel()
                raise EmbeddingModelMismatch(name, recorded, own)

    def _keyword_leg(
        self, collections: Sequence[str], tokens: Sequence[str], limit: int, allowed: dict[str, set[int]]
    ) -> tuple[list[Hit], bool]:
        """BM25 hits of every collection, and whether any collection filled ``limit`` (may have more)."""
        hits: list[Hit] = []
        full = False
        if tokens:
            for name in collections:
                found = self.index.keyword_search(name, tokens, limit, allowed.get(name))
                full = full or len(found) >= limit
                hits += found
        return hits, full

    def _rank(
        self, keyword: list[Hit], vector: list[Hit], normalisation: str, weight: float, wanted: int
    ) -> list[tuple[tuple[ChunkRecord, Document], float]]:
        fused = self._fuse(keyword, vector, normalisation, weight)
        ranked = sorted(fused.items(), key=lambda kv: kv[1], reverse=True)
        return self._resolve(ranked, wanted)

    def _resolve(
        self, ranked: list[tuple[int, float]], wanted: int
    ) -> list[tuple[tuple[ChunkRecord, Document], float]]:
        """The first ``wanted`` ranked keys that searches may see, joined with their records.

        Keys of versions being swapped in or out are skipped, so look-ups go in growing slices.
        """
        hits: list[tuple[tuple[ChunkRecord, Document], float]] = []
        position, size = 0, wanted + 8
        while len(hits) < wanted and position < len(ranked):
            part = ranked[position : position + size]
            found = self.chunk_store.lookup([key for key, _ in part])
            hits += [(found[key], score) for key, score in part if key in found]
            position += size
            size *= 2
        return hits[:wanted]

    def _fusion(self, request: RetrieveInput, language: str) -> tuple[str, float, bool]:
        """The normalisation and vector weight: the request's weight, else the collections' calibrated
        fusion, else the configured defaults; and whether the weight moves with the embedder's
        confidence once the vector leg has answered (``search.weight_by_confidence``)."""
        if request.mode == "keyword":
            return self.settings.fusion, 0.0, False
        if request.mode == "vector":
            return self.settings.fusion, 1.0, False
        # a dense model that does not understand the query's language only adds noise
        if language not in self.embedder.languages and request.vector_weight is None:
            return self.settings.fusion, 0.0, False
        normalisation, weight = self._calibrated(request.collections)
        if request.vector_weight is not None:
            return normalisation, request.vector_weight, False
        return normalisation, weight, self.settings.weight_by_confidence and 0.0 < weight < 1.0

    def _by_confidence(self, weight: float, best_cosine: float) -> float:
        """The vector weight moved by how close the query's best vector match is: on SciFact's training
        queries the best weight rose from 0.4 to 0.7 as that cosine rose from 0.5 to 0.75, the vector
        leg being as good as BM25 where its match is close and far worse where it is not."""
        moved = weight + self.settings.confidence_slope * (best_cosine - self.settings.confidence_center)
        return round(min(MOST_WEIGHT, max(LEAST_WEIGHT, moved)), 4)

    def _calibrated(self, collections: Sequence[str]) -> tuple[str, float]:
        """The collections' calibrated fusion: one collection's own; across several, their mean weight
        when they agree on the normalisation (else the defaults); the defaults where none is recorded."""
        default = (self.settings.fusion, self.settings.vector_weight)
        if not self.settings.calibrate:
            return default
        recorded = self.store.fusion_calibrations(collections).values()
        choices = [(c.normalisation, c.vector_weight) if c else default for c in recorded]
        if not choices or len({n for n, _ in choices}) > 1:
            return default
        return choices[0][0], sum(w for _, w in choices) / len(choices)

    def _fuse(
        self, keyword: list[Hit], vector: list[Hit], normalisation: str, weight: float
    ) -> dict[int, float]:
        if normalisation == "rrf" and 0.0 < weight < 1.0:
            return rrf_fusion(keyword, vector, weight, self.settings.rrf_k)
        return fuse(normalisation, keyword, vector, weight)

    @staticmethod
    def _hit(
        chunk: ChunkRecord, document: Document, score: float, highlights: list[str] | None
    ) -> RetrieveHit:
        return RetrieveHit(
            chunk_id=str(chunk.key),
            document_id=chunk.document_id,
            collection=chunk.collection,
            text=chunk.text,
            score=round(float(score), 6),
            title=document.title,
            metadata=document.metadata,
            page=chunk.page,
            start=chunk.start,
            end=chunk.end,
            source=document.source,
            highlights=highlights,
        )


def _sort_by_metadata(
    hits: list[tuple[tuple[ChunkRecord, Document], float]], sort: SortSpec
) -> list[tuple[tuple[ChunkRecord, Document], float]]:
    """Order by a metadata field; documents without the field come last, ties keep relevance order."""
    present = [h for h in hits if h[0][1].metadata.get(sort.by) is not None]
    missing = [h for h in hits if h[0][1].metadata.get(sort.by) is None]
    present.sort(key=lambda h: _sort_key(h[0][1].metadata[sort.by]), reverse=sort.order == "desc")
    return present + missing


def _sort_key(value: Any) -> tuple[int, Any]:
    # numbers before strings so mixed types never raise
    return (0, value) if isinstance(value, int | float) and not isinstance(value, bool) else (1, str(value))


__all__ = ["Retriever", "parse_filters"]
