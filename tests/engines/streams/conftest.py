"""Fixtures for the stream adapters' tests: a real Redis server and a real NATS server with JetStream,
each started once for the session on a free loopback port, and the asyncio backend for anyio tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helpers.nats import nats_server
from helpers.redis import redis_server


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a Redis server shared by the session's stream tests (each uses its own streams)."""
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a NATS server with JetStream shared by the session's stream tests."""
    with nats_server(tmp_path_factory.mktemp("nats")) as url:
        yield url
