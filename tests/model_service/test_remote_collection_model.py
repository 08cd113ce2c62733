"""Collections remember the embedding model of their vectors; another model is refused (409), and an
embedder that is unavailable fails vector and hybrid searches with 503 while keyword search works.

The pipeline and the retriever run on a real SQLite store and index with the toy embedder of
``helpers.pipeline`` (the storage and refusal paths are under test, not the model).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from helpers.pipeline import ToyEmbedder, open_pipeline
from ragworks.config import SearchSettings
from ragworks.engines.embed.base import EmbeddingModelMismatch
from ragworks.engines.store.sql import SqlDatabase, SqlMetadataStore
from ragworks.errors import EmbedderUnavailable
from ragworks.ingest.pipeline import IngestItem, IngestPipeline
from ragworks.services.retrieve import Retriever
from ragworks.services.retrieve_models import RetrieveInput
from ragworks.testing.builders import DIMENSION, draft

TEXT = "Tides rise and fall twice a day because the moon pulls the oceans."


class OtherModel(ToyEmbedder):
    """The toy embedder under another model's name."""

    name = "other-model"


class DownEmbedder(ToyEmbedder):
    """A toy embedder whose query path fails as a remote embedder does when its service is down."""

    def submit_query(self, text: str) -> Future[npt.NDArray[np.float32]]:
        failed: Future[npt.NDArray[np.float32]] = Future()
        failed.set_exception(EmbedderUnavailable(f"the model service is unavailable ({text[:10]})"))
        return failed


@pytest.fixture
def store(db: SqlDatabase) -> SqlMetadataStore:
    store = SqlMetadataStore(db)
    store.create_collection("docs", "en", "")
    return store


@pytest.fixture
def pipeline(db: SqlDatabase, tmp_path: Path) -> Iterator[IngestPipeline]:
    with open_pipeline(db, tmp_path) as built:
        yield built


def _ingest(pipeline: IngestPipeline, store: SqlMetadataStore, document_id: str) -> object:
    accepted = store.accept_document(draft("docs", document_id, content=TEXT), {}, 4)
    item = IngestItem(f"job-{document_id}", "docs", document_id, accepted.document.version, text=TEXT)
    return pipeline.run([item], lambda _ids, _value, _stage: None)[item.job_id]


def _retriever(pipeline: IngestPipeline, embedder: ToyEmbedder) -> Retriever:
    return Retriever(
        store=pipeline.store,
        chunk_store=pipeline.chunk_store,
        index=pipeline.index,
        analyzer=pipeline.analyzer,
        embedder=embedder,
        settings=SearchSettings(),
    )


def _search(retriever: Retriever, mode: str) -> int:
    request = RetrieveInput(query="why do tides rise", collections=["docs"], mode=mode)
    return len(retriever.retrieve(request).results)


def test_the_first_ingest_records_the_embedders_model(
    pipeline: IngestPipeline, store: SqlMetadataStore
) -> None:
    assert isinstance(_ingest(pipeline, store, "a"), dict)

    found = store.get_collection("docs")
    assert (found.embed_model, found.embed_dimension) == ("toy", DIMENSION)


def test_ingest_with_another_model_is_refused_naming_both(
    pipeline: IngestPipeline, store: SqlMetadataStore
) -> None:
    _ingest(pipeline, store, "a")
    other = dataclasses.replace(pipeline, embedder=OtherModel())

    outcome = _ingest(other, store, "b")

    assert isinstance(outcome, EmbeddingModelMismatch)
    assert outcome.status_code == 409 and outcome.code == "embedding_model_mismatch"
    assert "'toy'" in outcome.message and "'other-model'" in outcome.message
    assert store.get_collection("docs").chunk_count == 1  # nothing of "b" was written


def test_vector_and_hybrid_search_with_another_model_are_refused(
    pipeline: IngestPipeline, store: SqlMetadataStore
) -> None:
    _ingest(pipeline, store, "a")
    retriever = _retriever(pipeline, OtherModel())

    for mode in ("vector", "hybrid"):
        with pytest.raises(EmbeddingModelMismatch, match="holds vectors of 'toy'.*'other-model'"):
            _search(retriever, mode)
    assert _search(retriever, "keyword") == 1


def test_the_same_model_searches_in_every_mode(pipeline: IngestPipeline, store: SqlMetadataStore) -> None:
    _ingest(pipeline, store, "a")
    retriever = _retriever(pipeline, ToyEmbedder())

    assert [_search(retriever, mode) for mode in ("keyword", "vector", "hybrid")] == [1, 1, 1]


def test_an_unavailable_embedder_fails_vector_searches_only(
    pipeline: IngestPipeline, store: SqlMetadataStore
) -> None:
    _ingest(pipeline, store, "a")
    retriever = _retriever(pipeline, DownEmbedder())

    for mode in ("vector", "hybrid"):
        with pytest.raises(EmbedderUnavailable) as raised:
            _search(retriever, mode)
        assert raised.value.status_code == 503
    assert _search(retriever, "keyword") == 1
