"""Fixtures for the rate limiters' tests: the asyncio backend for anyio tests and a real Redis server
for the session (each test uses keys of its own)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helpers.redis import redis_server


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a Redis server shared by the session's rate-limit tests."""
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url
