"""Contract tests every LLM adapter must pass.

Subclass ``GenerativeLLMContract`` (providers with a model) or ``NonGenerativeLLMContract`` (providers
without one, such as ``extractive``) in a test module and provide an ``llm`` fixture that returns a started
adapter. Generation tests ask for a few tokens
only; prompts are plain completion prompts, which base models (the bundled Gemma 3 270M) continue well.
The tests are ``anyio`` tests: the test module (or its conftest) provides ``anyio_backend``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from typing import cast

import anyio
import pytest

from ragworks.engines.llm.base import LLM, GenerationParams, LLMUnavailable

COUNTING = "Count: 1, 2, 3, 4, 5, 6,"
GREEDY = GenerationParams(max_tokens=8, temperature=0.0)
# A stream far longer than FREED_WITHIN_S allows, so a model still generating after its consumer left fails
LONG = GenerationParams(max_tokens=1500, temperature=0.0)
FREED_WITHIN_S = 10.0


async def collect(pieces: AsyncIterator[str]) -> list[str]:
    """Every piece of a stream."""
    return [piece async for piece in pieces]


class LLMContract:
    """Behaviour shared by every LLM adapter, generative or not."""

    @pytest.fixture
    def llm(self) -> Iterator[LLM]:
        """A started adapter; subclasses override this fixture (module scope recommended)."""
        raise NotImplementedError("subclasses provide a started LLM")

    def test_describes_itself(self, llm: LLM) -> None:
        assert llm.provider and llm.model
        assert isinstance(llm.generative, bool)
        assert llm.context_tokens > 0

    def test_count_tokens_grows_with_text(self, llm: LLM) -> None:
        short, long = llm.count_tokens("hello"), llm.count_tokens("hello " * 50)
        assert 0 < short < long
        assert llm.count_tokens("한국어 문장도 셉니다") > 0


class GenerativeLLMContract(LLMContract):
    """Behaviour of adapters that run a model."""

    pytestmark = pytest.mark.anyio

    def test_is_generative(self, llm: LLM) -> None:
        assert llm.generative is True

    async def test_generate_returns_text_and_usage(self, llm: LLM) -> None:
        result = await llm.generate(COUNTING, GREEDY)
        assert result.text.strip()
        assert result.finish_reason in ("stop", "length")
        assert result.prompt_tokens > 0
        assert 0 < result.completion_tokens <= GREEDY.max_tokens

    async def test_max_tokens_ends_with_length(self, llm: LLM) -> None:
        result = await llm.generate(COUNTING, GenerationParams(max_tokens=3, temperature=0.0))
        assert result.finish_reason == "length"
        assert result.completion_tokens == 3

    async def test_stop_string_ends_generation_and_is_not_returned(self, llm: LLM) -> None:
        params = GenerationParams(max_tokens=16, temperature=0.0, stop=(" 8",))
        result = await llm.generate(COUNTING, params)
        assert result.finish_reason == "stop"
        assert "8" not in result.text
        assert "7" in result.text

    async def test_same_seed_same_sample(self, llm: LLM) -> None:
        params = GenerationParams(max_tokens=8, temperature=1.0, top_p=1.0, seed=1234)
        # the same prompt after the same other prompt: a model that reuses its cache for a shared prefix
        # computes both samples the same way (a cached prompt may give slightly different logits)
        await llm.generate(COUNTING, GREEDY)
        first = await llm.generate("Once upon a time", params)
        await llm.generate(COUNTING, GREEDY)
        second = await llm.generate("Once upon a time", params)
        assert first.text == second.text

    async def test_stream_yields_what_generate_returns(self, llm: LLM) -> None:
        pieces = await collect(llm.stream(COUNTING, GREEDY))
        assert len(pieces) > 1
        assert all(isinstance(piece, str) and piece for piece in pieces)
        assert "".join(pieces) == (await llm.generate(COUNTING, GREEDY)).text

    async def test_stream_respects_stop_strings(self, llm: LLM) -> None:
        params = GenerationParams(max_tokens=16, temperature=0.0, stop=(" 8",))
        text = "".join(await collect(llm.stream(COUNTING, params)))
        assert "7" in text and "8" not in text

    async def test_closing_a_stream_early_frees_the_model(self, llm: LLM) -> None:
        pieces = cast(AsyncGenerator[str, None], llm.stream(COUNTING, LONG))
        assert await anext(pieces)
        await pieces.aclose()  # the consumer goes away
        with anyio.fail_after(FREED_WITHIN_S):
            assert (await llm.generate(COUNTING, GREEDY)).text

    async def test_cancelling_a_stream_frees_the_model(self, llm: LLM) -> None:
        started = anyio.Event()

        async def consume() -> None:
            async for _piece in llm.stream(COUNTING, LONG):
                started.set()

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(consume)
                await started.wait()
                tasks.cancel_scope.cancel()  # as a client disconnect does
        with anyio.fail_after(FREED_WITHIN_S):
            assert (await llm.generate(COUNTING, GREEDY)).text

    async def test_concurrent_generations_all_finish(self, llm: LLM) -> None:
        texts: list[str] = []

        async def one() -> None:
            texts.append((await llm.generate(COUNTING, GREEDY)).text)

        async def streamed() -> None:
            texts.append("".join(await collect(llm.stream(COUNTING, GREEDY))))

        async with anyio.create_task_group() as tasks:
            for job in (one, streamed, one):
                tasks.start_soon(job)
        assert len(texts) == 3 and all(texts)

    async def test_generation_does_not_block_the_event_loop(self, llm: LLM) -> None:
        longest_gap = 0.0

        async def tick(done: anyio.Event) -> None:
            nonlocal longest_gap
            last = time.perf_counter()
            while not done.is_set():
                await anyio.sleep(0.005)
                now = time.perf_counter()
                longest_gap, last = max(longest_gap, now - last), now

        done = anyio.Event()
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(tick, done)
            started = time.perf_counter()
            await llm.generate(COUNTING, GenerationParams(max_tokens=24, temperature=0.0))
            took = time.perf_counter() - started
            done.set()
        # a generation run on the loop would stall the ticker for all of it
        assert longest_gap < max(took / 2, 0.1)


class NonGenerativeLLMContract(LLMContract):
    """Behaviour of providers without a model: generation is refused with ``LLMUnavailable``."""

    pytestmark = pytest.mark.anyio

    def test_is_not_generative(self, llm: LLM) -> None:
        assert llm.generative is False

    async def test_generate_is_unavailable(self, llm: LLM) -> None:
        with pytest.raises(LLMUnavailable):
            await llm.generate(COUNTING, GREEDY)

    async def test_stream_is_unavailable(self, llm: LLM) -> None:
        with pytest.raises(LLMUnavailable):
            await collect(llm.stream(COUNTING, GREEDY))
