"""Fixtures of the consumer tests: a real Redis server and a store on SQLite in a temporary folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.redis import redis_server
from ragworks.config import Settings
from ragworks.roles.parts import Core, build_core


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis server for this module's tests (each test uses its own streams)."""
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def core(tmp_path: Path) -> Iterator[Core]:
    """The store, queue and blobs of an embedded data dir, started."""
    (tmp_path / "data").mkdir()
    parts = build_core(Settings(data_dir=tmp_path / "data"))
    parts.start()
    try:
        yield parts
    finally:
        parts.stop()
