"""Which LLM adapter each ``llm.provider`` setting names (one line per provider)."""

from __future__ import annotations

from collections.abc import Callable

from ragworks.config import LLMSettings
from ragworks.engines.llm.base import LLM
from ragworks.engines.llm.extractive import ExtractiveLLM


def _extractive(_settings: LLMSettings) -> LLM:
    return ExtractiveLLM()


def _llamacpp(settings: LLMSettings) -> LLM:
    from ragworks.engines.llm.llamacpp import LlamaCppLLM  # imports llama_cpp only when chosen

    return LlamaCppLLM(settings)


def _openai(settings: LLMSettings) -> LLM:
    from ragworks.engines.llm.openai_api import OpenAICompatibleLLM  # imports openai only when chosen

    return OpenAICompatibleLLM(settings)


PROVIDERS: dict[str, Callable[[LLMSettings], LLM]] = {
    "extractive": _extractive,
    "llamacpp": _llamacpp,
    "openai": _openai,
}


def build_llm(settings: LLMSettings) -> LLM:
    """The adapter the settings name (cheap: models load in ``start()``)."""
    return PROVIDERS[settings.provider](settings)
