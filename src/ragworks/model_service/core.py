"""What the gRPC server and the HTTP app share: the served models, the one batcher, input limits.

Both servers start listening before the models are loaded (health says NOT_SERVING, calls are
answered UNAVAILABLE / 503) and call ``ModelServiceCore`` once it is ready; each maps the exceptions
below to its own status codes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from ragworks.config import ModelServiceSettings
from ragworks.engines.embed.base import Embedder
from ragworks.engines.llm.base import LLM, Generation, GenerationParams, LLMError
from ragworks.model_service.batcher import (
    BatcherClosed,
    BatchLimits,
    DeadlineExceeded,
    DynamicBatcher,
    Embedding,
    QueueFull,
    TextKind,
)
from ragworks.model_service.metrics import ModelServiceMetrics

INLINE_COUNT_TEXTS = 16  # CountTokens requests up to this many texts run on the event loop


class InvalidRequest(Exception):
    """The request breaks a limit or is malformed (INVALID_ARGUMENT / HTTP 400)."""


class ServiceStarting(Exception):
    """The models are still loading, or the service is stopping (UNAVAILABLE / HTTP 503)."""


class NoLLMServed(Exception):
    """Generation was asked of a service started without an LLM (FAILED_PRECONDITION / HTTP 404)."""


# what a call may end with, besides success; each server maps these to its status codes
EXPECTED_ERRORS = (
    InvalidRequest,
    QueueFull,
    DeadlineExceeded,
    ServiceStarting,
    BatcherClosed,
    NoLLMServed,
    LLMError,
)


@dataclass(frozen=True, slots=True)
class ServedModels:
    """The started models of one model service process."""

    embedder: Embedder
    llm: LLM | None = None


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    """What ``Info`` and ``GET /v1/models`` describe."""

    model: str
    dimension: int
    max_tokens: int
    languages: list[str]
    llm_model: str


def batch_limits(settings: ModelServiceSettings) -> BatchLimits:
    """The batcher's limits from the ``model_service`` settings."""
    return BatchLimits(
        max_batch_tokens=settings.max_batch_tokens,
        max_wait_s=settings.max_wait_ms / 1000,
        max_queue_texts=settings.max_queue_texts,
        retry_after_s=settings.retry_after_s,
    )


class ModelServiceCore:
    """The served models behind one batcher, with the per-request limits of the settings."""

    def __init__(self, settings: ModelServiceSettings, metrics: ModelServiceMetrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self._models: ServedModels | None = None
        self._batcher: DynamicBatcher | None = None
        self._stopping = False

    @property
    def ready(self) -> bool:
        """True once the models are loaded and until shutdown begins."""
        return self._models is not None and not self._stopping

    async def attach(self, models: ServedModels) -> None:
        """Serve ``models`` (started already): start the batcher; calls are answered from now on."""
        batcher = DynamicBatcher(models.embedder, batch_limits(self.settings), self.metrics)
        await batcher.start()
        self._models, self._batcher = models, batcher

    async def close(self, timeout_s: float = 30.0) -> None:
        """Refuse new calls, let the queued ones finish, stop the batcher."""
        self._stopping = True
        if self._batcher is not None:
            await self._batcher.close(timeout_s)

    def info(self) -> ServiceInfo:
        """The served embedder (and LLM) described."""
        models = self._require()
        embedder = models.embedder
        return ServiceInfo(
            model=embedder.name,
            dimension=embedder.dimension,
            max_tokens=embedder.max_tokens,
            languages=sorted(embedder.languages),
            llm_model=models.llm.model if models.llm is not None else "",
        )

    async def embed(self, texts: Sequence[str], kind: TextKind, deadline: float | None) -> Embedding:
        """Vectors of ``texts`` through the shared batcher (see ``DynamicBatcher.embed`` for errors)."""
        self._require()
        self.check_texts(texts)
        assert self._batcher is not None
        return await self._batcher.embed(texts, kind, deadline)

    async def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Model tokens of each text (no special tokens, no truncation)."""
        embedder = self._require().embedder
        self.check_texts(texts)
        if len(texts) <= INLINE_COUNT_TEXTS:
            return [embedder.count_tokens(text) for text in texts]
        return await asyncio.to_thread(lambda: [embedder.count_tokens(text) for text in texts])

    async def generate(self, prompt: str, params: GenerationParams) -> tuple[Generation, str]:
        """A completion of ``prompt`` by the served LLM, and the LLM's model name."""
        llm = self._require().llm
        if llm is None or not llm.generative:
            raise NoLLMServed("this model service serves no LLM (start it with --llm)")
        if len(prompt) > self.settings.max_text_chars:
            raise InvalidRequest(f"the prompt is longer than {self.settings.max_text_chars} characters")
        if params.max_tokens < 1:
            raise InvalidRequest("max_tokens must be at least 1")
        return await llm.generate(prompt, params), llm.model

    def check_texts(self, texts: Sequence[str]) -> None:
        """Refuse too many texts, or a text over the size limit."""
        limit = self.settings.max_texts_per_request
        if len(texts) > limit:
            raise InvalidRequest(f"{len(texts)} texts in one request; at most {limit} are accepted")
        longest = self.settings.max_text_chars
        for index, text in enumerate(texts):
            if len(text) > longest:
                raise InvalidRequest(
                    f"text {index} has {len(text)} characters; at most {longest} are accepted"
                )

    def _require(self) -> ServedModels:
        if self._models is None or self._stopping:
            raise ServiceStarting("the model service is starting or stopping; retry shortly")
        return self._models
