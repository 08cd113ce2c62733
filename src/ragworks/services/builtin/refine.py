"""refine: rewrite a question into better search queries (Korean and English).

Without a model: the analyzer's keywords and a normalised rewrite (question words, particles and stop
words dropped). With a model: also other phrasings, of which only sane ones are kept (short enough, in
the query's language, sharing a term with it).
"""

from __future__ import annotations

import logging
from typing import Literal

import anyio
from pydantic import BaseModel, ConfigDict, Field

from ragworks.engines.llm.base import GenerationParams, LLMError
from ragworks.ingest.analysis import Analyzer
from ragworks.services.base import Service, ServiceContext
from ragworks.services.continuations import unique
from ragworks.services.generation import Generator, generator_of
from ragworks.services.query_rewrite import (
    normalise,
    parse_variants,
    sane,
    unique_terms,
    variants_prompt,
)

log = logging.getLogger(__name__)


class RefineInput(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"query": "지사의 업무 범위는 무엇인가요?", "max_variants": 3}]}
    )

    query: str = Field(..., min_length=1, max_length=2000, description="The question or query to refine.")
    language: Literal["auto", "en", "ko"] = Field(
        "auto", description="Language of the query; 'auto' detects it."
    )
    max_variants: int = Field(3, ge=0, le=5, description="Most model phrasings to return.")


class RefineOutput(BaseModel):
    original: str = Field(..., description="The query as given.")
    refined: str = Field(
        ..., description="The best single rewrite: the query's meaningful words (the query if none)."
    )
    variants: list[str] = Field(
        ..., description="Other phrasings from the model (none without one), distinct from both above."
    )
    keywords: list[str] = Field(
        ..., description="Index terms of the query: Korean content morphemes, English stems."
    )
    language: str = Field(..., description="Language of the query (ISO 639-1).")
    generator: Generator = Field(
        ..., description="The model asked for variants ('extractive': none, the rewrite is the analyzer's)."
    )


Input = RefineInput
Output = RefineOutput


async def run(request: Input, ctx: ServiceContext) -> Output:
    """Normalised rewrite and keywords, then the model's phrasings when there is a model."""
    query = request.query.strip() or request.query
    language, refined, keywords = await anyio.to_thread.run_sync(_analyse, query, request, ctx.analyzer)
    refined = refined or query
    variants: list[str] = []
    if ctx.llm.generative and request.max_variants:
        proposed = await _propose(query, language, request.max_variants, ctx)
        checked = await anyio.to_thread.run_sync(_check, proposed, query, language, keywords, ctx.analyzer)
        variants = unique([query, refined, *checked])[len(unique([query, refined])) :]
        variants = variants[: request.max_variants]
    return Output(
        original=request.query,
        refined=refined,
        variants=variants,
        keywords=keywords,
        language=language,
        generator=generator_of(ctx.llm),
    )


def _analyse(query: str, request: Input, analyzer: Analyzer) -> tuple[str, str, list[str]]:
    language = analyzer.language_of(query) if request.language == "auto" else request.language
    return language, normalise(query, analyzer), unique_terms(analyzer.tokens(query))


async def _propose(query: str, language: str, count: int, ctx: ServiceContext) -> list[str]:
    """The model's phrasings; none if it fails (the rewrite above still serves)."""
    params = GenerationParams(max_tokens=8 + 12 * count, temperature=0.3, stop=("\n",), seed=7)
    try:
        generation = await ctx.llm.generate(variants_prompt(query, language, count), params)
    except LLMError as exc:
        log.warning("refine: the model failed; keeping the rewrite only", extra={"error": str(exc)})
        return []
    return parse_variants(generation.text)


def _check(
    proposed: list[str], query: str, language: str, keywords: list[str], analyzer: Analyzer
) -> list[str]:
    terms = set(keywords)
    return [v for v in proposed if sane(v, query, language, terms, analyzer)]


SERVICE = Service(
    name="refine",
    summary="Rewrite a question into better search queries",
    description=(
        "Keywords and a normalised rewrite of a Korean or English query (question words, particles and "
        "stop words dropped), plus other phrasings from the model when one is configured."
    ),
    input=Input,
    output=Output,
    run=run,
    aliases=("/v1/refine",),
)
