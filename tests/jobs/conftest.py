"""Fixtures: the asyncio backend for anyio tests (the queue comes from tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
