"""Fixtures: one asyncio event loop per module (adapters load once per module) and the bundled GGUF."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragworks.engines.llm.bundled import bundled_model_path


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def gguf() -> Path:
    """The bundled Gemma 3 270M GGUF file."""
    return bundled_model_path()
