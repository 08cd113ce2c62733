"""refine_and_retrieve: refine the query, search with every phrasing, fuse the rankings.

An aggregated service: it only calls ``refine`` and ``retrieve`` through the context.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ragworks.services.base import Service, ServiceContext
from ragworks.services.builtin import refine, retrieve
from ragworks.services.continuations import unique
from ragworks.services.retrieve_models import FilterCondition, FilterValue, Identifier, RetrieveHit

RRF_K = 60


class RefineAndRetrieveInput(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"query": "지사의 업무 범위는 무엇인가요?", "collections": ["docs"]}]}
    )

    query: str = Field(..., min_length=1, max_length=2000, description="The question to search for.")
    collections: list[Identifier] = Field(
        ..., min_length=1, max_length=32, description="Collections to search."
    )
    top_k: int = Field(10, ge=1, le=100, description="Results to return.")
    mode: Literal["hybrid", "keyword", "vector"] = Field(
        "hybrid", description="Retrieval mode of each search."
    )
    filters: dict[str, FilterValue | list[FilterValue] | FilterCondition] | None = Field(
        None, description="Metadata conditions, as for retrieve."
    )
    language: Literal["auto", "en", "ko"] = Field("auto", description="Language of the query.")
    max_variants: int = Field(2, ge=0, le=5, description="Model phrasings searched besides the rewrite.")


class RefineAndRetrieveOutput(BaseModel):
    refined: refine.Output = Field(..., description="What refine made of the query.")
    queries: list[str] = Field(..., description="The phrasings searched, the original first.")
    results: list[RetrieveHit] = Field(
        ..., description="Best first; score is the reciprocal rank fusion over the searches."
    )
    took_ms: float = Field(..., description="Time spent in the service, in milliseconds.")


Input = RefineAndRetrieveInput
Output = RefineAndRetrieveOutput


async def run(request: Input, ctx: ServiceContext) -> Output:
    """Refine, retrieve with the original and each rewrite at once, fuse by reciprocal rank."""
    started = time.perf_counter()
    refined = await ctx.call(
        refine.SERVICE,
        {"query": request.query, "language": request.language, "max_variants": request.max_variants},
    )
    queries = unique([request.query, refined.refined, *refined.variants])
    search: dict[str, Any] = {
        "collections": request.collections,
        "top_k": request.top_k,
        "mode": request.mode,
        "filters": request.filters,
    }
    rankings = await asyncio.gather(*(ctx.call(retrieve.SERVICE, {**search, "query": q}) for q in queries))
    results = rrf([r.results for r in rankings])[: request.top_k]
    took = (time.perf_counter() - started) * 1000
    return Output(refined=refined, queries=queries, results=results, took_ms=round(took, 3))


def rrf(rankings: list[list[RetrieveHit]], k: int = RRF_K) -> list[RetrieveHit]:
    """One ranking from many: Σ 1 / (k + rank) per chunk; each chunk once, as first seen."""
    scores: dict[str, float] = {}
    hits: dict[str, RetrieveHit] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking, start=1):
            scores[hit.chunk_id] = scores.get(hit.chunk_id, 0.0) + 1.0 / (k + rank)
            hits.setdefault(hit.chunk_id, hit)
    ordered = sorted(scores, key=lambda chunk_id: scores[chunk_id], reverse=True)
    return [hits[c].model_copy(update={"score": round(scores[c], 6)}) for c in ordered]


SERVICE = Service(
    name="refine_and_retrieve",
    summary="Refine the query, search with each phrasing, fuse the results",
    description=(
        "Runs refine, then retrieve with the original query, the rewrite and the model's phrasings, and "
        "fuses the rankings by reciprocal rank (each chunk once)."
    ),
    input=Input,
    output=Output,
    run=run,
)
