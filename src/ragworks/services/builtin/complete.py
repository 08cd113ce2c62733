"""complete: suggestions for the rest of the sentence being typed, optionally grounded in sources.

Sources come first: where a retrieved passage contains the end of what was typed, its own words are an
exact and free continuation. The model (if there is one) fills the remaining suggestions, each sampled
differently and stopped at the end of the sentence.
"""

from __future__ import annotations

import re
import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ragworks.engines.llm.base import GenerationParams
from ragworks.services.base import Service, ServiceContext
from ragworks.services.builtin import retrieve
from ragworks.services.continuations import clean, continue_from, sentence_end, unique
from ragworks.services.generation import Generator, generator_of
from ragworks.services.retrieve_models import Identifier, RetrieveHit

SEARCHED = 8  # passages searched for literal continuations
PROMPTED = 2  # of which the best go into the model's prompt
SNIPPET_CHARS = 500
# One sampling setting per attempt: the first greedy, the others more and more varied.
TEMPERATURES = (0.0, 0.7, 0.9, 1.0, 1.1, 1.2, 1.3)
_SENTENCE_SPLIT = re.compile(r"(?<=[.?!。？！])\s+|\n+")
_TERM = re.compile(r"\w+")


class CompleteInput(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"prefix": "Vitamin D deficiency is associated with", "n": 3}]}
    )

    prefix: str = Field(..., min_length=1, max_length=2000, description="What the user has typed so far.")
    collections: list[Identifier] | None = Field(
        None, min_length=1, max_length=32, description="Ground the suggestions in these collections."
    )
    n: int = Field(3, ge=1, le=5, description="Suggestions wanted (fewer when they would repeat).")
    max_tokens: int = Field(24, ge=1, le=128, description="Longest model suggestion, in tokens.")


class SuggestionSource(BaseModel):
    chunk_id: str = Field(..., description="The passage the suggestion continues.")
    document_id: str = Field(..., description="Its document.")
    collection: str = Field(..., description="Its collection.")
    title: str | None = Field(None, description="The document's title.")


class Suggestion(BaseModel):
    text: str = Field(
        ...,
        description=(
            "What to append to the prefix (never the prefix itself): it starts with a space when a new "
            "word begins, and ends at the end of the sentence when one was reached."
        ),
    )
    origin: Literal["source", "model"] = Field(
        ..., description="'source': the words of a passage that contains the prefix; 'model': generated."
    )
    source: SuggestionSource | None = Field(None, description="The passage, for 'source' suggestions.")


class CompleteOutput(BaseModel):
    suggestions: list[Suggestion] = Field(..., description="Best first; source continuations first.")
    generator: Generator = Field(..., description="The configured model ('extractive': none).")
    note: str | None = Field(None, description="Why suggestions are missing or only come from sources.")
    took_ms: float = Field(..., description="Time spent in the service, in milliseconds.")


Input = CompleteInput
Output = CompleteOutput


async def run(request: Input, ctx: ServiceContext) -> Output:
    """Source continuations, then model suggestions up to ``n``."""
    started = time.perf_counter()
    if not request.prefix.strip():
        return Output(
            suggestions=[], generator=generator_of(ctx.llm), note="nothing has been typed yet", took_ms=0.0
        )
    hits = await _search(request, ctx) if request.collections else []
    suggestions = from_sources(request.prefix, hits, request.n)
    note = None
    if not ctx.llm.generative:
        note = (
            "no language model is configured: suggestions only continue sentences found in the sources"
            if request.collections
            else "no language model is configured and no collections were given: nothing to complete from"
        )
    elif len(suggestions) < request.n:
        prompt = build_prompt(request.prefix, hits[:PROMPTED])
        taken = [s.text for s in suggestions]
        for text in await _generate(prompt, request, ctx, taken):
            suggestions.append(Suggestion(text=text, origin="model"))
    took = (time.perf_counter() - started) * 1000
    return Output(suggestions=suggestions, generator=generator_of(ctx.llm), note=note, took_ms=round(took, 3))


async def _search(request: Input, ctx: ServiceContext) -> list[RetrieveHit]:
    found = await ctx.call(
        retrieve.SERVICE,
        {"query": request.prefix, "collections": request.collections, "top_k": SEARCHED, "highlight": False},
    )
    return found.results


def from_sources(prefix: str, hits: list[RetrieveHit], n: int) -> list[Suggestion]:
    """Continuations of the prefix found literally in the passages: longest match first, then rank."""
    found = [
        (match, rank, hit) for rank, hit in enumerate(hits) if (match := continue_from(prefix, hit.text))
    ]
    found.sort(key=lambda item: (-item[0].matched_words, item[1]))
    suggestions: list[Suggestion] = []
    for text in unique(match.text for match, _, _ in found):
        hit = next(h for m, _, h in found if m.text == text)
        source = SuggestionSource(
            chunk_id=hit.chunk_id, document_id=hit.document_id, collection=hit.collection, title=hit.title
        )
        suggestions.append(Suggestion(text=text, origin="source", source=source))
    return suggestions[:n]


def build_prompt(prefix: str, hits: list[RetrieveHit]) -> str:
    """The prefix itself (a base model continues text), after the passages most like it."""
    terms = set(_TERM.findall(prefix.casefold()))
    snippets = [snippet(hit.text, terms) for hit in hits]
    # no trailing space: the model's next token brings its own
    return "\n\n".join([*snippets, prefix.rstrip()])


def snippet(text: str, terms: set[str]) -> str:
    """The sentences of ``text`` from the one sharing most words with ``terms``, up to SNIPPET_CHARS."""
    sentences = [s for s in _SENTENCE_SPLIT.split(text) if s.strip()]
    if not sentences:
        return ""
    best = max(range(len(sentences)), key=lambda i: len(terms & set(_TERM.findall(sentences[i].casefold()))))
    picked = ""
    for sentence in sentences[best:]:
        if picked and len(picked) + len(sentence) > SNIPPET_CHARS:
            break
        picked = f"{picked} {sentence}".strip()
    return picked[:SNIPPET_CHARS]


async def _generate(prompt: str, request: Input, ctx: ServiceContext, taken: list[str]) -> list[str]:
    """Up to ``n - len(taken)`` new suggestions, trying a few more settings when some repeat."""
    wanted = request.n - len(taken)
    fresh: list[str] = []
    for attempt, temperature in enumerate(TEMPERATURES[: wanted + 2]):
        params = GenerationParams(
            max_tokens=request.max_tokens, temperature=temperature, stop=("\n",), seed=attempt + 1
        )
        text = clean(request.prefix, await first_sentence(prompt, params, ctx))
        if text and len(unique([*taken, *fresh, text])) > len(taken) + len(fresh):
            fresh.append(text)
            if len(fresh) == wanted:
                break
    return fresh


async def first_sentence(prompt: str, params: GenerationParams, ctx: ServiceContext) -> str:
    """Stream the model's continuation and stop it as soon as a sentence ends (terminator kept)."""
    text = ""
    pieces = ctx.llm.stream(prompt, params)
    try:
        async for piece in pieces:
            text += piece
            end = sentence_end(text, final=False)
            if end is not None:
                return text[:end]
    finally:
        close = getattr(pieces, "aclose", None)
        if close is not None:  # stops the generation we no longer need
            await close()
    return text[: sentence_end(text, final=True)]


SERVICE = Service(
    name="complete",
    summary="Auto-complete the sentence being typed",
    description=(
        "Suggestions for the rest of the sentence: literal continuations from matching passages of the "
        "given collections first, then the model's, each stopped at the sentence end."
    ),
    input=Input,
    output=Output,
    run=run,
    aliases=("/v1/complete",),
)
