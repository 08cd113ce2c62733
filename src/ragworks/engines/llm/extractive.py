"""The ``extractive`` provider: no language model at all.

Services see ``generative = False`` and build answers and summaries from the best sentences of their
sources instead (``ragworks.services.extractive``), saying so in their responses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from ragworks.engines.llm.base import Generation, GenerationParams, LLMUnavailable


class ExtractiveLLM:
    """The provider used when no model is configured."""

    provider = "extractive"
    model = "extractive"
    generative = False
    context_tokens = 1_000_000  # no model window: services bound their own inputs

    def start(self) -> None:
        """Nothing to load."""

    def close(self) -> None:
        """Nothing to free."""

    def count_tokens(self, text: str) -> int:
        """Whitespace words: a rough token count."""
        return len(text.split())

    async def generate(self, prompt: str, params: GenerationParams) -> Generation:  # noqa: ARG002
        """Always raises: there is no model."""
        raise LLMUnavailable("no language model is configured (llm.provider = 'extractive')")

    async def stream(self, prompt: str, params: GenerationParams) -> AsyncIterator[str]:  # noqa: ARG002
        """Always raises: there is no model."""
        raise LLMUnavailable("no language model is configured (llm.provider = 'extractive')")
        yield ""  # pragma: no cover - makes this an async generator
