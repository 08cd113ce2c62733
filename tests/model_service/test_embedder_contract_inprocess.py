"""The in-process MiniLM passes the Embedder contract suite against itself (the suite's baseline)."""

from __future__ import annotations

import pytest

from ragworks.engines.embed.base import Embedder
from ragworks.engines.embed.minilm import MiniLMEmbedder
from ragworks.testing.embedder_contract import EmbedderContract

pytestmark = pytest.mark.integration


class TestInProcessMiniLM(EmbedderContract):
    @pytest.fixture
    def embedder(self, reference_embedder: MiniLMEmbedder) -> Embedder:
        return reference_embedder

    @pytest.fixture
    def reference(self, reference_embedder: MiniLMEmbedder) -> Embedder:
        return reference_embedder
