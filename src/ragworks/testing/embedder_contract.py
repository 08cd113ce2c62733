"""Contract tests every Embedder adapter must pass.

Subclass ``EmbedderContract`` in a test module and provide two fixtures (module scope recommended):

- ``embedder``: the started adapter under test (in-process, or a client of a model service);
- ``reference``: the started in-process embedder of the same model (``MiniLMEmbedder``), whose vectors
  and token counts the adapter must reproduce. For the in-process adapter itself, both may be one object.

Vectors must equal the reference's within ``TOLERANCE`` for the same text and the same path: documents
through ``embed``, queries through ``submit_query`` (``ragworks.engines.embed.base.submit_query`` picks
the query path when the adapter has one). An adapter that serves another model than the reference
cannot pass this suite, by design: mixing vector spaces is the failure it guards against.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from ragworks.engines.embed.base import Embedder, submit_query

TOLERANCE = 1e-5

DOCUMENTS = [
    "Tidal energy is predictable because the tides follow the moon.",
    "Glaciers carve valleys over thousands of years.",
    "covid-19",
    "x",
]
UNUSUAL = [
    "짧은 한국어 문장입니다",  # Korean
    "launch day 🚀🎉 with emoji",
    "a NUL\x00inside the text",
    "",  # an empty text is still a text: it gets a vector
    "   \t\n  ",
    "Ünïcödé àccents ß",
]
QUERIES = ["how do vaccines work?", "짧은 질문", "what carves valleys"]


def long_text(embedder: Embedder) -> str:
    """A text of about twice the model's token limit (truncated by the model, counted in full)."""
    return "word " * (2 * embedder.max_tokens)


def assert_close(actual: np.ndarray, expected: np.ndarray) -> None:
    """Equal shapes, and every value within ``TOLERANCE``."""
    assert actual.shape == expected.shape
    assert float(np.abs(actual - expected).max(initial=0.0)) < TOLERANCE


class EmbedderContract:
    """Behaviour shared by every embedder: shape, normalisation, equality with the reference model."""

    @pytest.fixture
    def embedder(self) -> Embedder:
        """The started adapter under test; subclasses override this fixture."""
        raise NotImplementedError("subclasses provide a started Embedder")

    @pytest.fixture
    def reference(self) -> Embedder:
        """The started in-process embedder of the same model; subclasses override this fixture."""
        raise NotImplementedError("subclasses provide the started reference Embedder")

    def test_describes_the_same_model_as_the_reference(self, embedder: Embedder, reference: Embedder) -> None:
        assert embedder.dimension == reference.dimension > 0
        assert embedder.max_tokens == reference.max_tokens > 0
        assert embedder.languages == reference.languages
        assert reference.name in embedder.name

    def test_rows_have_the_dimension_and_unit_norm(self, embedder: Embedder) -> None:
        vectors = embedder.embed(DOCUMENTS)
        assert vectors.shape == (len(DOCUMENTS), embedder.dimension)
        assert vectors.dtype == np.float32
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=TOLERANCE)

    def test_empty_input_gives_an_empty_matrix(self, embedder: Embedder) -> None:
        vectors = embedder.embed([])
        assert vectors.shape == (0, embedder.dimension)
        assert vectors.dtype == np.float32

    def test_document_vectors_equal_the_reference(self, embedder: Embedder, reference: Embedder) -> None:
        assert_close(embedder.embed(DOCUMENTS), reference.embed(DOCUMENTS))

    def test_batch_equals_one_by_one(self, embedder: Embedder) -> None:
        batch = embedder.embed(DOCUMENTS)
        alone = np.vstack([embedder.embed([text]) for text in DOCUMENTS])
        assert_close(batch, alone)

    def test_rows_keep_input_order(self, embedder: Embedder) -> None:
        forward = embedder.embed(DOCUMENTS)
        backward = embedder.embed(DOCUMENTS[::-1])
        assert_close(forward, backward[::-1])

    def test_unusual_texts_equal_the_reference(self, embedder: Embedder, reference: Embedder) -> None:
        vectors = embedder.embed(UNUSUAL)
        assert np.all(np.isfinite(vectors))
        assert_close(vectors, reference.embed(UNUSUAL))

    def test_text_over_the_token_limit_is_truncated_like_the_reference(
        self, embedder: Embedder, reference: Embedder
    ) -> None:
        text = long_text(embedder)
        assert_close(embedder.embed([text]), reference.embed([text]))

    def test_count_tokens_equals_the_reference(self, embedder: Embedder, reference: Embedder) -> None:
        for text in [*DOCUMENTS, *UNUSUAL]:
            assert embedder.count_tokens(text) == reference.count_tokens(text), text

    def test_count_tokens_has_no_length_limit(self, embedder: Embedder) -> None:
        text = long_text(embedder)
        assert embedder.count_tokens(text) > embedder.max_tokens

    def test_query_vectors_equal_the_reference_queries(self, embedder: Embedder, reference: Embedder) -> None:
        for query in QUERIES:
            expected = submit_query(reference, query).result(timeout=60)
            assert_close(submit_query(embedder, query).result(timeout=60), expected)

    def test_query_path_equals_embed(self, embedder: Embedder) -> None:
        for query in QUERIES:
            assert_close(submit_query(embedder, query).result(timeout=60), embedder.embed([query])[0])

    def test_concurrent_callers_get_their_own_rows(self, embedder: Embedder) -> None:
        texts = [f"sentence number {i} about rivers" for i in range(12)]
        expected = embedder.embed(texts)
        with ThreadPoolExecutor(max_workers=6) as pool:
            rows = list(pool.map(lambda text: embedder.embed([text])[0], texts))
        assert_close(np.vstack(rows), expected)
