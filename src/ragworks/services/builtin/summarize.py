"""summarize: a text or a stored document, map-reduce when it does not fit the model's window.

Long input is cut at sentence ends into parts that fit, each part is summarized (the map), and the
part summaries are summarized again, in rounds, until they fit one prompt (the reduce). Without a
model (provider ``extractive``) the summary is the most central sentences, in document order.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio

from ragworks.engines.llm.base import GenerationParams
from ragworks.errors import BadRequest
from ragworks.services import extractive as ex
from ragworks.services.base import Service, ServiceContext, ServiceEvent
from ragworks.services.document_text import read_document_text
from ragworks.services.generation import (
    EXTRACTIVE_NOTE,
    embedding_centrality,
    generator_of,
    sentences_of,
    understood,
)
from ragworks.services.prompts import (
    SUMMARY_STOP,
    cut_at_stop,
    pack_parts,
    summary_prompt,
    summary_prompt_overhead,
    tidy,
)
from ragworks.services.summarize_models import SummarizeInput, SummarizeOutput

Input = SummarizeInput
Output = SummarizeOutput

MAP_CONCURRENCY = 2  # the in-process model runs one generation at a time; a server can take more
MAX_ROUNDS = 6
# Embedding every sentence of a long document costs more than it adds over TF-IDF centrality.
MAX_EMBEDDED_SENTENCES = 400
EMPTY_NOTE = "The model gave no summary; this one is made of the text's most central sentences."


@dataclass(slots=True)
class Plan:
    """What is left after the map rounds: the final prompt, or an output needing no model."""

    started: float
    text: str
    document_id: str | None
    title: str | None
    parts: int = 1
    prompt: str | None = None
    output: Output | None = None


async def run(request: Input, ctx: ServiceContext) -> Output:
    """Summarize the text or document."""
    plan = await _plan(request, ctx)
    if plan.output is not None:
        return plan.output
    assert plan.prompt is not None
    generation = await ctx.llm.generate(plan.prompt, _params(request))
    return await _finish(request, ctx, plan, generation.text, generation.finish_reason)


async def stream(request: Input, ctx: ServiceContext) -> AsyncIterator[ServiceEvent]:
    """``token`` events of the final summary as the model writes it, then ``done``."""
    plan = await _plan(request, ctx)
    output = plan.output
    if output is None:
        assert plan.prompt is not None
        pieces: list[str] = []
        async for piece in ctx.llm.stream(plan.prompt, _params(request)):
            pieces.append(piece)
            yield ServiceEvent("token", {"text": piece})
        output = await _finish(request, ctx, plan, "".join(pieces), None)
    else:
        yield ServiceEvent("token", {"text": output.summary})
    yield ServiceEvent("done", output.model_dump(mode="json"))


def _output_tokens(request: Input) -> int:
    return request.max_tokens or min(2048, max(64, request.target_words * 2 + 32))


def _params(request: Input) -> GenerationParams:
    return GenerationParams(
        max_tokens=_output_tokens(request), temperature=request.temperature, stop=SUMMARY_STOP
    )


async def _plan(request: Input, ctx: ServiceContext) -> Plan:
    started = time.perf_counter()
    document_id = title = None
    text = request.text or ""
    if request.collection is not None and request.document_id is not None:
        stored = await anyio.to_thread.run_sync(
            read_document_text, ctx.store, ctx.chunks, request.collection, request.document_id
        )
        text, document_id, title = stored.text, stored.document.id, stored.document.title
    plan = Plan(started, text, document_id, title)
    if not text.strip():
        raise BadRequest("there is no text to summarize")
    if not ctx.llm.generative:
        plan.output = await anyio.to_thread.run_sync(_extractive, request, ctx, plan, text, EXTRACTIVE_NOTE)
        return plan
    budget = await anyio.to_thread.run_sync(_budget, request, ctx)
    pieces = [s.text for s in await anyio.to_thread.run_sync(sentences_of, text, ctx.analyzer)]
    mapped = 0
    for _ in range(MAX_ROUNDS):
        parts = await anyio.to_thread.run_sync(pack_parts, pieces, budget, ctx.llm.count_tokens)
        if len(parts) <= 1:
            break
        pieces = await _map(request, ctx, parts)
        mapped += len(parts)
    else:
        raise BadRequest("the text does not shrink to the model's window; ask for fewer target_words")
    plan.parts = max(1, mapped)
    joined = "\n".join(pieces) if mapped else " ".join(pieces)
    plan.prompt = summary_prompt(joined, request.target_words, request.style)
    return plan


def _budget(request: Input, ctx: ServiceContext) -> int:
    """Tokens of text one summary prompt can hold (blocking: counts tokens)."""
    out = _output_tokens(request)
    overhead = summary_prompt_overhead(request.target_words, request.style, ctx.llm.count_tokens)
    budget = ctx.llm.context_tokens - out - overhead - 16  # a margin for tokens that merge at joins
    if budget < 2 * out:
        raise BadRequest(
            f"the model's window ({ctx.llm.context_tokens} tokens) is too small for summaries of "
            f"{out} tokens; ask for fewer target_words or max_tokens"
        )
    return budget


async def _map(request: Input, ctx: ServiceContext, parts: list[str]) -> list[str]:
    """Each part summarized in about ``target_words`` words, a few at a time; summaries in order."""
    words = request.target_words
    results = [""] * len(parts)
    limiter = anyio.CapacityLimiter(MAP_CONCURRENCY)
    params = _params(request)

    async def summarize_part(i: int) -> None:
        async with limiter:
            prompt = summary_prompt(parts[i], words, "paragraph")
            generation = await ctx.llm.generate(prompt, params)
        text = tidy(
            cut_at_stop(generation.text, SUMMARY_STOP), cut_unfinished=generation.finish_reason == "length"
        )
        text = " ".join(text.split())
        if not text:  # keep the part's gist rather than lose it
            text = await anyio.to_thread.run_sync(_central, request, ctx, parts[i], words)
        results[i] = text

    async with anyio.create_task_group() as group:
        for i in range(len(parts)):
            group.start_soon(summarize_part, i)
    return results


async def _finish(
    request: Input, ctx: ServiceContext, plan: Plan, raw: str, finish_reason: str | None
) -> Output:
    if finish_reason is None:  # streamed: the port does not say, so compare the length with the limit
        finish_reason = "length" if ctx.llm.count_tokens(raw) >= _output_tokens(request) else "stop"
    text = cut_at_stop(raw, SUMMARY_STOP)
    if request.style == "paragraph":
        text = tidy(text, cut_unfinished=finish_reason == "length")
    text = text.strip()
    if request.style == "bullets" and text:
        lines = [line.strip().lstrip("-*• ").strip() for line in f"-{text}".splitlines()]
        text = "\n".join(f"- {line}" for line in dict.fromkeys(lines) if line)  # repeats dropped
    if not text:
        return await anyio.to_thread.run_sync(_extractive, request, ctx, plan, plan.text, EMPTY_NOTE)
    return _output(ctx, plan, text, note=None)


def _central(request: Input, ctx: ServiceContext, text: str, words: int) -> str:
    """The most central sentences of ``text`` up to ``words`` words, in order (blocking)."""
    sentences = sentences_of(text, ctx.analyzer)
    if not sentences:
        return ""
    vectors = ex.tfidf_vectors(ctx.analyzer.tokens_many([s.text for s in sentences]))
    scores = ex.centrality(vectors)
    if len(sentences) <= MAX_EMBEDDED_SENTENCES and understood(text, ctx.analyzer, ctx.embedder):
        dense = embedding_centrality(ctx.embedder, [s.text for s in sentences])
        scores = [(a + b) / 2 for a, b in zip(_scaled(scores), _scaled(dense), strict=True)]
    chosen = ex.pick_summary(sentences, scores, vectors, words)
    separator = "\n" if request.style == "bullets" else " "
    prefix = "- " if request.style == "bullets" else ""
    return separator.join(prefix + sentences[i].text for i in chosen)


def _scaled(values: list[float]) -> list[float]:
    """Min-max scaled to [0, 1], so two centralities can be averaged."""
    low, high = min(values), max(values)
    return [(v - low) / (high - low) if high > low else 1.0 for v in values]


def _extractive(request: Input, ctx: ServiceContext, plan: Plan, text: str, note: str) -> Output:
    output = _output(ctx, plan, _central(request, ctx, text, request.target_words), note=note)
    output.generator.provider = output.generator.model = "extractive"
    return output


def _output(ctx: ServiceContext, plan: Plan, summary: str, *, note: str | None) -> Output:
    return Output(
        summary=summary,
        parts=plan.parts,
        input_words=len(plan.text.split()),
        generator=generator_of(ctx.llm),
        note=note,
        document_id=plan.document_id,
        title=plan.title,
        took_ms=round((time.perf_counter() - plan.started) * 1000, 3),
    )


SERVICE = Service(
    name="summarize",
    summary="Summarize a text or a stored document",
    description=(
        "Summarizes a text, or a stored document by collection and id, as a paragraph or bullets; long "
        "input is summarized part by part (map-reduce) within the model's window."
    ),
    input=Input,
    output=Output,
    run=run,
    stream=stream,
    aliases=("/v1/summarize",),
)
