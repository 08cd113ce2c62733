"""The Redis query-vector cache: a query embedded by one process is read back by another, on a real
redis-server and the real MiniLM; with Redis down, queries are embedded as usual."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from helpers.redis import redis_server
from ragworks.config import Settings
from ragworks.engines.embed.minilm import MiniLMEmbedder
from ragworks.engines.embed.providers import build_embedder
from ragworks.engines.embed.redis_cache import RedisQueryCache

Vector = npt.NDArray[np.float32]


class CountingEmbedder:
    """The real MiniLM, counting the queries it is asked to embed."""

    def __init__(self, model: MiniLMEmbedder) -> None:
        self.model = model
        self.name, self.dimension = model.name, model.dimension
        self.max_tokens, self.languages = model.max_tokens, model.languages
        self.queries: list[str] = []

    def start(self) -> None:
        """Already started (shared by the module's tests)."""

    def embed(self, texts: Sequence[str]) -> Vector:
        return self.model.embed(texts)

    def count_tokens(self, text: str) -> int:
        return self.model.count_tokens(text)

    def submit_query(self, text: str) -> Future[Vector]:
        self.queries.append(text)
        return self.model.submit_query(text)


@pytest.fixture(scope="module")
def model() -> Iterator[MiniLMEmbedder]:
    embedder = MiniLMEmbedder()
    embedder.start()
    yield embedder
    embedder.close()


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    with redis_server(tmp_path) as url:
        yield url


def cached(model: MiniLMEmbedder, url: str) -> tuple[RedisQueryCache, CountingEmbedder]:
    inner = CountingEmbedder(model)
    cache = RedisQueryCache(inner, url)
    cache.start()
    return cache, inner


def test_a_query_embedded_by_one_process_is_read_by_another(model: MiniLMEmbedder, redis_url: str) -> None:
    first, first_model = cached(model, redis_url)
    second, second_model = cached(model, redis_url)

    embedded = first.submit_query("when are refunds paid").result()
    read = second.submit_query("when are refunds paid").result()

    assert first_model.queries == ["when are refunds paid"]
    assert second_model.queries == []  # the second process never ran the model
    np.testing.assert_allclose(read, embedded, atol=1e-6)
    assert read.dtype == np.float32 and read.shape == (model.dimension,)


def test_documents_are_not_cached(model: MiniLMEmbedder, redis_url: str) -> None:
    cache, _ = cached(model, redis_url)

    vectors = cache.embed(["a passage"])

    np.testing.assert_allclose(vectors, model.embed(["a passage"]), atol=1e-6)
    assert cache._client.dbsize() == 0


def test_models_do_not_share_vectors(model: MiniLMEmbedder, redis_url: str) -> None:
    cache, _ = cached(model, redis_url)
    other, _ = cached(model, redis_url)
    other.name = "another-model"

    assert cache.key("q") != other.key("q")


def test_queries_are_embedded_when_redis_is_down(
    model: MiniLMEmbedder, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with redis_server(tmp_path) as url:
        cache, inner = cached(model, url)
    # the server has stopped
    with caplog.at_level(logging.WARNING):
        vector = cache.submit_query("refund policy").result()

    np.testing.assert_allclose(vector, model.submit_query("refund policy").result(), atol=1e-6)
    assert inner.queries == ["refund policy"]
    assert "query vector cache unavailable" in caplog.text


def test_the_redis_cache_needs_a_url(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    settings.embed.query_cache = "redis"

    with pytest.raises(ValueError, match="redis.url"):
        build_embedder(settings)


def test_the_settings_put_the_cache_in_front_of_the_model(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    settings.embed.query_cache = "redis"
    settings.redis.url = "redis://127.0.0.1:1/0"

    embedder = build_embedder(settings)

    assert isinstance(embedder, RedisQueryCache)
    assert isinstance(embedder.inner, MiniLMEmbedder)
