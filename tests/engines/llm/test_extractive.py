"""ExtractiveLLM: the shared contract for providers without a model."""

from __future__ import annotations

import pytest

from ragworks.config import LLMSettings
from ragworks.engines.llm.base import LLM
from ragworks.engines.llm.extractive import ExtractiveLLM
from ragworks.engines.llm.providers import build_llm
from ragworks.testing.llm_contract import NonGenerativeLLMContract


class TestExtractiveLLM(NonGenerativeLLMContract):
    @pytest.fixture
    def llm(self) -> LLM:
        adapter = ExtractiveLLM()
        adapter.start()
        return adapter


def test_the_extractive_setting_builds_it() -> None:
    assert isinstance(build_llm(LLMSettings(provider="extractive")), ExtractiveLLM)
