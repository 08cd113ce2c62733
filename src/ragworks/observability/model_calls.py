"""Counts and times every call to the embedder and the LLM, whatever the adapter.

The roles wrap the embedder and the LLM they build (``MeteredEmbedder``, ``MeteredLLM``), so every
caller (the ingest pipeline, the retriever, services) is counted in one place and no adapter carries
metrics code of its own.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import Future

import numpy as np
import numpy.typing as npt
from prometheus_client import CollectorRegistry, Counter, Histogram

from ragworks.engines.embed.base import Embedder, submit_query
from ragworks.engines.llm.base import LLM, Generation, GenerationParams

Vector = npt.NDArray[np.float32]

# A query vector takes milliseconds; a batch of 256 long chunks on CPU takes tens of seconds.
_EMBED_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

# A generation takes from a fraction of a second (a short answer) to minutes (a long summary on CPU).
_LLM_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)


class ModelCallMetrics:
    """The model-call families on an app's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.embedder_calls_total = Counter(
            "ragworks_embedder_calls_total",
            "Embedder calls, by model and path (batch: documents and services; query: one search query).",
            ["model", "path"],
            registry=registry,
        )
        self.embedder_texts_total = Counter(
            "ragworks_embedder_texts_total",
            "Texts embedded, by model and path.",
            ["model", "path"],
            registry=registry,
        )
        self.embedder_duration_seconds = Histogram(
            "ragworks_embedder_duration_seconds",
            "Time one embedder call took, by model and path.",
            ["model", "path"],
            buckets=_EMBED_BUCKETS,
            registry=registry,
        )
        self.llm_calls_total = Counter(
            "ragworks_llm_calls_total",
            "LLM calls, by provider, model and mode (generate or stream).",
            ["provider", "model", "mode"],
            registry=registry,
        )
        self.llm_errors_total = Counter(
            "ragworks_llm_errors_total",
            "LLM calls that raised, by provider, model, mode and error code.",
            ["provider", "model", "mode", "error"],
            registry=registry,
        )
        self.llm_tokens_total = Counter(
            "ragworks_llm_tokens_total",
            "Tokens the LLM read (prompt) and wrote (completion; for streams, one per streamed piece).",
            ["provider", "model", "kind"],
            registry=registry,
        )
        self.llm_duration_seconds = Histogram(
            "ragworks_llm_duration_seconds",
            "Time one LLM call took to its last token, by provider, model and mode.",
            ["provider", "model", "mode"],
            buckets=_LLM_BUCKETS,
            registry=registry,
        )

    def observe_embedding(self, model: str, path: str, texts: int, duration_s: float) -> None:
        """Count one embedder call of ``texts`` texts and record its duration."""
        self.embedder_calls_total.labels(model, path).inc()
        self.embedder_texts_total.labels(model, path).inc(texts)
        self.embedder_duration_seconds.labels(model, path).observe(duration_s)


class MeteredEmbedder:
    """An ``Embedder`` (with the query path) that counts and times every call to ``inner``."""

    def __init__(self, inner: Embedder, metrics: ModelCallMetrics) -> None:
        self.inner = inner
        self.metrics = metrics
        self.name = inner.name
        self.dimension = inner.dimension
        self.max_tokens = inner.max_tokens
        self.languages = inner.languages

    def start(self) -> None:
        """Load the inner model."""
        self.inner.start()

    def close(self) -> None:
        """Close the inner embedder when it has something to close (a client, a cache)."""
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()

    def embed(self, texts: Sequence[str]) -> Vector:
        """Embed ``texts`` with the inner model, counted under path ``batch``."""
        started = time.perf_counter()
        try:
            return self.inner.embed(texts)
        finally:
            self.metrics.observe_embedding(self.name, "batch", len(texts), time.perf_counter() - started)

    def count_tokens(self, text: str) -> int:
        """The inner model's token count (not a model call: not counted)."""
        return self.inner.count_tokens(text)

    def submit_query(self, text: str) -> Future[Vector]:
        """Start embedding one query; counted under path ``query`` when its vector is ready."""
        started = time.perf_counter()
        future = submit_query(self.inner, text)

        def record(_done: Future[Vector]) -> None:
            self.metrics.observe_embedding(self.name, "query", 1, time.perf_counter() - started)

        future.add_done_callback(record)
        return future


class MeteredLLM:
    """An ``LLM`` that counts, times and records the tokens and errors of every call to ``inner``."""

    def __init__(self, inner: LLM, metrics: ModelCallMetrics) -> None:
        self.inner = inner
        self.metrics = metrics
        self.provider = inner.provider
        self.model = inner.model
        self.generative = inner.generative
        self.context_tokens = inner.context_tokens

    def start(self) -> None:
        """Start the inner adapter; its model name and window may only be known now."""
        self.inner.start()
        self.model = self.inner.model
        self.generative = self.inner.generative
        self.context_tokens = self.inner.context_tokens

    def close(self) -> None:
        """Close the inner adapter."""
        self.inner.close()

    def count_tokens(self, text: str) -> int:
        """The inner tokenizer's count (not a model call: not counted)."""
        return self.inner.count_tokens(text)

    async def generate(self, prompt: str, params: GenerationParams) -> Generation:
        """Complete ``prompt`` with the inner model, counted and timed."""
        started = time.perf_counter()
        self._call("generate")
        try:
            generation = await self.inner.generate(prompt, params)
        except Exception as exc:
            self._error("generate", exc)
            raise
        finally:
            self._took("generate", started)
        self._tokens("prompt", generation.prompt_tokens)
        self._tokens("completion", generation.completion_tokens)
        return generation

    async def stream(self, prompt: str, params: GenerationParams) -> AsyncIterator[str]:
        """Stream ``prompt``'s completion from the inner model, counted and timed to the last piece."""
        started, pieces = time.perf_counter(), 0
        self._call("stream")
        try:
            async for piece in self.inner.stream(prompt, params):
                pieces += 1
                yield piece
        except Exception as exc:
            self._error("stream", exc)
            raise
        finally:
            self._took("stream", started)
            self._tokens("completion", pieces)

    def _call(self, mode: str) -> None:
        self.metrics.llm_calls_total.labels(self.provider, self.model, mode).inc()

    def _took(self, mode: str, started: float) -> None:
        took = time.perf_counter() - started
        self.metrics.llm_duration_seconds.labels(self.provider, self.model, mode).observe(took)

    def _error(self, mode: str, exc: Exception) -> None:
        code = str(getattr(exc, "code", type(exc).__name__))
        self.metrics.llm_errors_total.labels(self.provider, self.model, mode, code).inc()

    def _tokens(self, kind: str, n: int) -> None:
        if n:
            self.metrics.llm_tokens_total.labels(self.provider, self.model, kind).inc(n)
