"""Model-call metrics: every embedder and LLM call counted and timed by the wrappers the roles use.

The embedder here is a small stand-in (``CountingEmbedder``) and the generating LLM is the scripted
one from ``helpers.services``: what is checked is the counting around the call, not the model; the
bundled embedder's calls are counted end to end by ``tests/integration/test_prometheus.py``, which
ingests through a real server.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pytest

from helpers.services import ScriptedLLM
from ragworks.engines.embed.base import submit_query
from ragworks.engines.llm.base import GenerationParams, LLMUnavailable
from ragworks.engines.llm.extractive import ExtractiveLLM
from ragworks.observability.metrics import Metrics
from ragworks.observability.model_calls import MeteredEmbedder, MeteredLLM

pytestmark = pytest.mark.anyio


class CountingEmbedder:
    """Vectors of ones, with no query path of its own."""

    name = "counting"
    dimension = 4
    max_tokens = 16
    languages = frozenset({"en"})

    def start(self) -> None:
        """Nothing to load."""

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return np.ones((len(texts), self.dimension), dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def _value(metrics: Metrics, name: str, labels: dict[str, str]) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


async def test_batch_embeddings_count_calls_texts_and_time() -> None:
    metrics = Metrics()
    embedder = MeteredEmbedder(CountingEmbedder(), metrics.models)

    embedder.embed(["a", "b", "c"])
    embedder.embed(["d"])

    labels = {"model": "counting", "path": "batch"}
    assert _value(metrics, "ragworks_embedder_calls_total", labels) == 2
    assert _value(metrics, "ragworks_embedder_texts_total", labels) == 4
    assert _value(metrics, "ragworks_embedder_duration_seconds_count", labels) == 2


async def test_query_embeddings_are_counted_on_the_query_path() -> None:
    metrics = Metrics()
    embedder = MeteredEmbedder(CountingEmbedder(), metrics.models)

    vector = submit_query(embedder, "what is a lease").result(timeout=5)

    assert vector.shape == (4,)
    labels = {"model": "counting", "path": "query"}
    assert _value(metrics, "ragworks_embedder_calls_total", labels) == 1
    assert _value(metrics, "ragworks_embedder_texts_total", labels) == 1


async def test_the_wrapper_keeps_the_inner_embedder_identity() -> None:
    embedder = MeteredEmbedder(CountingEmbedder(), Metrics().models)

    assert (embedder.name, embedder.dimension, embedder.languages) == ("counting", 4, frozenset({"en"}))
    assert embedder.count_tokens("two words") == 2


async def test_generations_count_calls_tokens_and_time() -> None:
    metrics = Metrics()
    llm = MeteredLLM(ScriptedLLM("three word reply"), metrics.models)

    generation = await llm.generate("a four word prompt", GenerationParams(max_tokens=8))

    assert generation.text == "three word reply"
    base = {"provider": "scripted", "model": "scripted"}
    assert _value(metrics, "ragworks_llm_calls_total", {**base, "mode": "generate"}) == 1
    assert _value(metrics, "ragworks_llm_tokens_total", {**base, "kind": "prompt"}) == 4
    assert _value(metrics, "ragworks_llm_tokens_total", {**base, "kind": "completion"}) == 3
    assert _value(metrics, "ragworks_llm_duration_seconds_count", {**base, "mode": "generate"}) == 1


async def test_streams_count_one_completion_token_per_piece() -> None:
    metrics = Metrics()
    llm = MeteredLLM(ScriptedLLM("one two three four"), metrics.models)

    pieces = [piece async for piece in llm.stream("prompt", GenerationParams(max_tokens=8))]

    assert "".join(pieces) == "one two three four"
    base = {"provider": "scripted", "model": "scripted"}
    assert _value(metrics, "ragworks_llm_calls_total", {**base, "mode": "stream"}) == 1
    assert _value(metrics, "ragworks_llm_tokens_total", {**base, "kind": "completion"}) == 4
    assert _value(metrics, "ragworks_llm_duration_seconds_count", {**base, "mode": "stream"}) == 1


async def test_llm_errors_are_counted_by_code_and_raised() -> None:
    metrics = Metrics()
    llm = MeteredLLM(ExtractiveLLM(), metrics.models)

    with pytest.raises(LLMUnavailable):
        await llm.generate("prompt", GenerationParams())
    with pytest.raises(LLMUnavailable):
        [piece async for piece in llm.stream("prompt", GenerationParams())]

    base = {"provider": "extractive", "model": "extractive", "error": "llm_unavailable"}
    assert _value(metrics, "ragworks_llm_errors_total", {**base, "mode": "generate"}) == 1
    assert _value(metrics, "ragworks_llm_errors_total", {**base, "mode": "stream"}) == 1
    tokens = {"provider": "extractive", "model": "extractive", "kind": "completion"}
    assert _value(metrics, "ragworks_llm_tokens_total", tokens) is None
