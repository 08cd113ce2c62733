"""answer: retrieve passages, have the model answer from them, and cite the passages it used.

Passages below a relevance floor are dropped; with none left the service says nothing relevant was
found and generates nothing. Without a model (provider ``extractive``) the answer is the sources'
best-matching sentences, each with its marker.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import anyio

from ragworks.engines.llm.base import GenerationParams
from ragworks.errors import BadRequest
from ragworks.services import extractive as ex
from ragworks.services.answer_models import AnswerInput, AnswerOutput, Citation
from ragworks.services.base import Service, ServiceContext, ServiceEvent
from ragworks.services.builtin import retrieve
from ragworks.services.generation import EXTRACTIVE_NOTE, generator_of, sentences_of, similarities, understood
from ragworks.services.prompts import (
    ANSWER_STOP,
    PackedPrompt,
    PromptSource,
    answer_prompt,
    cited_numbers,
    clean_markers,
    cut_at_stop,
    tidy,
)
from ragworks.services.retrieve_models import RetrieveHit

Input = AnswerInput
Output = AnswerOutput

# Calibrated on SciFact with the bundled MiniLM: a question's relevant passages are almost all above
# 0.25 cosine, and the best passage for off-topic questions stays below it.
COSINE_FLOOR = 0.25
COVERAGE_FLOOR = 0.5
NOT_FOUND = "No relevant information was found for this question in the searched collections."
NOT_FOUND_NOTE = "No passage was relevant enough to answer from; nothing was generated."
EMPTY_NOTE = "The model gave no answer; these are the sources' best-matching sentences."


@dataclass(frozen=True, slots=True)
class Source:
    """A retrieved passage that passed the relevance floor, numbered as the prompt shows it."""

    n: int
    hit: RetrieveHit
    relevance: float


@dataclass(slots=True)
class Plan:
    """What is decided before generating: the sources, and the prompt or an output needing no model."""

    started: float
    sources: list[Source]
    prompt: PackedPrompt | None = None
    output: Output | None = None


async def run(request: Input, ctx: ServiceContext) -> Output:
    """Answer the question from the collections, with citations."""
    plan = await _plan(request, ctx)
    if plan.output is not None:
        return plan.output
    assert plan.prompt is not None
    generation = await ctx.llm.generate(plan.prompt.prompt, _params(request))
    return await _finish(request, ctx, plan, generation.text, generation.finish_reason)


async def stream(request: Input, ctx: ServiceContext) -> AsyncIterator[ServiceEvent]:
    """``token`` events as the model writes, then ``citations``, then ``done`` with the output.

    The output's answer is the streamed text checked: markers naming no source removed, repeated
    sentences and a sentence cut off by ``max_tokens`` dropped.
    """
    plan = await _plan(request, ctx)
    output = plan.output
    if output is None:
        assert plan.prompt is not None
        pieces: list[str] = []
        async for piece in ctx.llm.stream(plan.prompt.prompt, _params(request)):
            pieces.append(piece)
            yield ServiceEvent("token", {"text": piece})
        output = await _finish(request, ctx, plan, "".join(pieces), None)
    else:
        yield ServiceEvent("token", {"text": output.answer})
    yield ServiceEvent("citations", {"citations": [c.model_dump(mode="json") for c in output.citations]})
    yield ServiceEvent("done", output.model_dump(mode="json"))


def _params(request: Input) -> GenerationParams:
    return GenerationParams(max_tokens=request.max_tokens, temperature=request.temperature, stop=ANSWER_STOP)


async def _plan(request: Input, ctx: ServiceContext) -> Plan:
    started = time.perf_counter()
    found = await ctx.call(
        retrieve.SERVICE,
        {
            "query": request.question,
            "collections": request.collections,
            "top_k": request.top_k,
            "mode": request.mode,
            "filters": request.filters,
            "highlight": False,
        },
    )
    sources = await anyio.to_thread.run_sync(_relevant, request, found.results, ctx)
    plan = Plan(started, sources)
    if not sources:
        plan.output = _output(plan, ctx, NOT_FOUND, [], cited=False, found=False, note=NOT_FOUND_NOTE)
    elif not ctx.llm.generative:
        plan.output = await anyio.to_thread.run_sync(_extractive, request, ctx, plan, EXTRACTIVE_NOTE)
    else:
        plan.prompt = await anyio.to_thread.run_sync(_pack, request, ctx, sources)
    return plan


def _relevant(request: Input, hits: Sequence[RetrieveHit], ctx: ServiceContext) -> list[Source]:
    """The hits at or above the relevance floor, numbered from 1 in retrieval order (blocking)."""
    if not hits:
        return []
    if understood(request.question, ctx.analyzer, ctx.embedder):
        scores = similarities(ctx.embedder, request.question, [h.text for h in hits])
        floor = COSINE_FLOOR
    else:
        question = ctx.analyzer.tokens(request.question)
        terms = ctx.analyzer.tokens_many([h.text for h in hits])
        scores = [ex.term_coverage(question, t) for t in terms]
        floor = COVERAGE_FLOOR
    if request.min_relevance is not None:
        floor = request.min_relevance
    kept = [(h, s) for h, s in zip(hits, scores, strict=True) if s >= floor]
    return [Source(n, hit, round(score, 4)) for n, (hit, score) in enumerate(kept, start=1)]


def _pack(request: Input, ctx: ServiceContext, sources: list[Source]) -> PackedPrompt:
    """The prompt with as many sources as the window leaves room for (blocking: counts tokens)."""
    budget = ctx.llm.context_tokens - request.max_tokens
    shown = [PromptSource(s.n, s.hit.text, s.hit.title) for s in sources]
    try:
        return answer_prompt(request.question, shown, budget, ctx.llm.count_tokens)
    except ValueError as exc:
        raise BadRequest(f"{exc}; ask for fewer max_tokens or a shorter question") from None


async def _finish(
    request: Input, ctx: ServiceContext, plan: Plan, raw: str, finish_reason: str | None
) -> Output:
    return await anyio.to_thread.run_sync(_complete, request, ctx, plan, raw, finish_reason)


def _complete(request: Input, ctx: ServiceContext, plan: Plan, raw: str, finish_reason: str | None) -> Output:
    """The output for generated text: markers checked against the sources given (blocking)."""
    assert plan.prompt is not None
    shown = plan.prompt.sources
    plan.sources = [s for s in plan.sources if s.n in shown]
    if finish_reason is None:  # streamed: the port does not say, so compare the length with the limit
        finish_reason = "length" if ctx.llm.count_tokens(raw) >= request.max_tokens else "stop"
    text = tidy(cut_at_stop(raw, ANSWER_STOP), cut_unfinished=finish_reason == "length")
    numbers = cited_numbers(text, shown)
    text = clean_markers(text, shown)
    if not text:
        return _extractive(request, ctx, plan, EMPTY_NOTE)
    cited = [s for n in numbers for s in plan.sources if s.n == n] if numbers else plan.sources
    snippets = _snippets(f"{request.question} {text}", cited, ctx)
    citations = [_citation(s, snippets[s.n]) for s in cited]
    output = _output(plan, ctx, text, citations, cited=bool(numbers), found=True, note=None)
    output.finish_reason = finish_reason
    return output


def _extractive(request: Input, ctx: ServiceContext, plan: Plan, note: str) -> Output:
    """The best-matching sentences of the sources, each with its marker (blocking)."""
    candidates = [
        ex.Candidate(s.n, sentence, 0.0)
        for s in plan.sources
        for sentence in sentences_of(s.hit.text, ctx.analyzer)
    ]
    texts = [c.sentence.text for c in candidates]
    sims = (
        similarities(ctx.embedder, request.question, texts)
        if understood(request.question, ctx.analyzer, ctx.embedder)
        else None
    )
    scores = ex.score_sentences(ctx.analyzer.tokens(request.question), ctx.analyzer.tokens_many(texts), sims)
    chosen = ex.pick_answer(
        [ex.Candidate(c.n, c.sentence, s) for c, s in zip(candidates, scores, strict=True)]
    )
    if not chosen and candidates:  # kept by a lowered floor with no sentence matching: the lead sentence
        chosen = [next((c for c in candidates if c.sentence.words >= ex.MIN_SENTENCE_WORDS), candidates[0])]
    numbers = list(dict.fromkeys(c.n for c in chosen))
    by_n = {s.n: s for s in plan.sources}
    citations = [_citation(by_n[n], " ".join(c.sentence.text for c in chosen if c.n == n)) for n in numbers]
    output = _output(plan, ctx, ex.answer_text(chosen), citations, cited=True, found=True, note=note)
    output.generator.provider = output.generator.model = "extractive"
    return output


def _snippets(text: str, sources: list[Source], ctx: ServiceContext) -> dict[int, str]:
    """For each source, its sentences that best match ``text`` (question and answer), in order."""
    wanted = ctx.analyzer.tokens(text)
    out: dict[int, str] = {}
    for source in sources:
        sentences = sentences_of(source.hit.text, ctx.analyzer)
        scores = ex.score_sentences(wanted, ctx.analyzer.tokens_many([s.text for s in sentences]))
        ranked = sorted(range(len(sentences)), key=lambda i: scores[i], reverse=True)
        best: list[int] = []
        for i in ranked:
            if best and (scores[i] <= 0 or sum(len(sentences[j].text) for j in best) >= 150):
                break
            best.append(i)
        out[source.n] = ex.snippet(" ".join(sentences[i].text for i in sorted(best)) or source.hit.text)
    return out


def _citation(source: Source, text: str) -> Citation:
    hit = source.hit
    return Citation(
        n=source.n,
        chunk_id=hit.chunk_id,
        document_id=hit.document_id,
        collection=hit.collection,
        title=hit.title,
        page=hit.page,
        source=hit.source,
        text=ex.snippet(text),
        score=hit.score,
        relevance=source.relevance,
    )


def _output(
    plan: Plan,
    ctx: ServiceContext,
    answer: str,
    citations: list[Citation],
    *,
    cited: bool,
    found: bool,
    note: str | None,
) -> Output:
    return Output(
        answer=answer,
        found=found,
        cited=cited,
        citations=citations,
        sources_used=len(plan.sources),
        generator=generator_of(ctx.llm),
        note=note,
        took_ms=round((time.perf_counter() - plan.started) * 1000, 3),
    )


SERVICE = Service(
    name="answer",
    summary="Answer a question from retrieved passages, with citations",
    description=(
        "Retrieves passages, drops those not relevant enough, and has the model answer from the rest "
        "with [n] markers; citations map each marker to its chunk, document and page. Streams tokens, "
        "then citations. Without a model the answer quotes the best-matching sentences."
    ),
    input=Input,
    output=Output,
    run=run,
    stream=stream,
    aliases=("/v1/answer",),
)
