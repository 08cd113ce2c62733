"""The remote (gRPC) and openai (HTTP) embedders, against a real ``ragworks model-serve`` process,
pass the Embedder contract suite: vectors and token counts equal the in-process MiniLM's."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.model_serve_process import ModelServeProcess
from ragworks.config import EmbedSettings
from ragworks.engines.embed.base import Embedder
from ragworks.engines.embed.identity import identity_from_settings
from ragworks.engines.embed.minilm import MiniLMEmbedder
from ragworks.engines.embed.openai_embeddings import OpenAIEmbedder
from ragworks.engines.embed.remote import RemoteEmbedder
from ragworks.errors import EmbedderUnavailable
from ragworks.testing.embedder_contract import DOCUMENTS, UNUSUAL, EmbedderContract

pytestmark = pytest.mark.integration

MINILM = identity_from_settings(EmbedSettings())


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelServeProcess]:
    served = ModelServeProcess(tmp_path_factory.mktemp("model-serve") / "data")
    served.start()
    yield served
    served.stop()


@pytest.fixture(scope="module")
def minilm() -> Iterator[MiniLMEmbedder]:
    model = MiniLMEmbedder(batch_size=4)
    model.start()
    yield model
    model.close()


@pytest.fixture(scope="module")
def remote(service: ModelServeProcess) -> Iterator[RemoteEmbedder]:
    embedder = RemoteEmbedder(service.target, MINILM, batch_texts=3)  # several calls per embed()
    embedder.start()
    yield embedder
    embedder.close()


@pytest.fixture(scope="module")
def openai(service: ModelServeProcess) -> Iterator[OpenAIEmbedder]:
    embedder = OpenAIEmbedder(f"{service.http_url}/v1", MINILM, batch_texts=3)
    embedder.start()
    yield embedder
    embedder.close()


class TestRemoteEmbedderOverGrpc(EmbedderContract):
    @pytest.fixture
    def embedder(self, remote: RemoteEmbedder) -> Embedder:
        return remote

    @pytest.fixture
    def reference(self, minilm: MiniLMEmbedder) -> Embedder:
        return minilm


class TestOpenAIEmbedderOverHttp(EmbedderContract):
    @pytest.fixture
    def embedder(self, openai: OpenAIEmbedder) -> Embedder:
        return openai

    @pytest.fixture
    def reference(self, minilm: MiniLMEmbedder) -> Embedder:
        return minilm


def test_remote_start_learns_the_served_languages(remote: RemoteEmbedder) -> None:
    assert remote.served_languages == frozenset({"en"})


def test_remote_token_counts_from_the_service_equal_the_local_ones(
    service: ModelServeProcess, minilm: MiniLMEmbedder
) -> None:
    embedder = RemoteEmbedder(service.target, MINILM, count_locally=False)
    embedder.start()
    texts = [*DOCUMENTS, *UNUSUAL, "word " * 600]
    try:
        assert [embedder.count_tokens(t) for t in texts * 2] == [minilm.count_tokens(t) for t in texts * 2]
    finally:
        embedder.close()


def test_remote_start_refuses_a_service_of_another_dimension(service: ModelServeProcess) -> None:
    other = identity_from_settings(EmbedSettings(model="all-MiniLM-L6-v2", dimension=768))
    embedder = RemoteEmbedder(service.target, other, timeout_s=10)
    with pytest.raises(RuntimeError, match=r"serves 'all-MiniLM-L6-v2' \(384 dimensions\).*\(768\)"):
        embedder.start()
    embedder.close()


def test_openai_start_refuses_a_server_of_another_dimension(service: ModelServeProcess) -> None:
    other = identity_from_settings(EmbedSettings(model="all-MiniLM-L6-v2", dimension=768))
    embedder = OpenAIEmbedder(f"{service.http_url}/v1", other, timeout_s=10)
    with pytest.raises(RuntimeError, match=r"\(384 dimensions\) but this process is configured for"):
        embedder.start()
    embedder.close()


def test_remote_start_gives_up_after_its_timeout_when_nothing_listens(tmp_path: Path) -> None:
    nowhere = ModelServeProcess(tmp_path / "data")  # ports chosen, never started
    embedder = RemoteEmbedder(nowhere.target, MINILM, timeout_s=1.0)
    started = time.monotonic()
    with pytest.raises(EmbedderUnavailable, match="unavailable"):
        embedder.start()
    assert time.monotonic() - started < 5.0
    embedder.close()


def test_openai_calls_to_a_server_that_is_down_are_unavailable(tmp_path: Path) -> None:
    nowhere = ModelServeProcess(tmp_path / "data")
    embedder = OpenAIEmbedder(f"{nowhere.http_url}/v1", MINILM, timeout_s=1.0)
    with pytest.raises(EmbedderUnavailable) as raised:
        embedder.start()
    assert raised.value.status_code == 503
    embedder.close()
