"""embed: the bundled embedder's vectors for given texts, with bounds on the input."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient

from helpers.service_app import call, started_app
from ragworks.engines.embed.minilm import MiniLMEmbedder

TEXTS = ["Vitamin D and bone density", "지사의 업무 범위", "The mitochondrion is the powerhouse of the cell."]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with started_app(tmp_path_factory.mktemp("embed")) as app:
        yield app


def test_vectors_are_the_embedders(client: TestClient) -> None:
    out = call(client, "/v1/embed", {"texts": TEXTS})
    reference = MiniLMEmbedder()
    reference.start()
    expected = reference.embed(TEXTS)

    got = np.asarray(out["embeddings"], dtype=np.float32)
    assert out["model"] == "all-MiniLM-L6-v2"
    assert out["dimension"] == 384
    assert got.shape == (3, 384)
    assert np.allclose(np.sum(got * expected, axis=1), 1.0, atol=1e-5)
    assert out["tokens"] == sum(reference.count_tokens(t) for t in TEXTS)


def test_order_follows_the_input(client: TestClient) -> None:
    forward = call(client, "/v1/embed", {"texts": TEXTS})["embeddings"]
    backward = call(client, "/v1/embed", {"texts": TEXTS[::-1]})["embeddings"]

    assert np.allclose(forward, backward[::-1], atol=1e-6)


@pytest.mark.parametrize(
    "texts",
    [[], ["x"] * 257, ["x" * 20_001], [1, 2]],
    ids=["none", "too-many", "too-long", "not-text"],
)
def test_bounds(client: TestClient, texts: list[object]) -> None:
    response = client.post("/v1/embed", json={"texts": texts})

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
