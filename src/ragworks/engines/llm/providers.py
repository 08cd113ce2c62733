"""Which LLM adapter each ``llm.provider`` setting names (one line per provider)."""

from __future__ import annotations

from collections.abc import Callable

from ragworks.config import LLMSettings
from ragworks.engines.llm.base import LLM
from ragworks.engines.llm.extractive import ExtractiveLLM


def _extractive(_settings: LLMSettings) -> LLM:
    return ExtractiveLLM()


PROVIDERS: dict[str, Callable[[LLMSettings], LLM]] = {
    "extractive": _extractive,
}


def build_llm(settings: LLMSettings) -> LLM:
    """The adapter the settings name (cheap: models load in ``start()``)."""
    return PROVIDERS[settings.provider](settings)
