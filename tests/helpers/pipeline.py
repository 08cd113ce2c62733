"""An ingest pipeline on a real SQLite store and index, with a toy embedder (the storage steps are
what these tests look at; the real model has its own tests)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import numpy.typing as npt

from helpers.store import DIMENSION
from ragworks.engines.blob.local import LocalBlobStore
from ragworks.engines.index.local import LocalSearchIndex
from ragworks.engines.store.sql import SqlDatabase, SqlMetadataStore
from ragworks.engines.store.sql_chunks import SqlChunkStore
from ragworks.ingest.analysis import Analyzer
from ragworks.ingest.chunking import Chunker
from ragworks.ingest.parsers.base import ParseLimits
from ragworks.ingest.parsers.isolation import IsolatedParser
from ragworks.ingest.pipeline import IngestPipeline
from ragworks.observability.metrics import Metrics


class ToyEmbedder:
    """A deterministic embedder: letter counts folded into DIMENSION values, normalised."""

    name, dimension, max_tokens, languages = "toy", DIMENSION, 64, frozenset({"en"})

    def start(self) -> None:
        pass

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        vectors = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        for row, text in enumerate(texts):
            for char in text.lower():
                if char.isalpha():
                    vectors[row, ord(char) % DIMENSION] += 1.0
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)

    def count_tokens(self, text: str) -> int:
        return len(text.split())


@contextmanager
def open_pipeline(
    db: SqlDatabase, folder: Path, chunk_store: SqlChunkStore | None = None
) -> Iterator[IngestPipeline]:
    """A pipeline over ``db`` with its index and blobs in ``folder``; the index is closed on exit."""
    index = LocalSearchIndex(folder / "index", DIMENSION)
    index.start()
    embedder = ToyEmbedder()
    chunker = Chunker(embedder.count_tokens, max_tokens=64, overlap_tokens=8)
    try:
        yield IngestPipeline(
            store=SqlMetadataStore(db),
            chunk_store=chunk_store or SqlChunkStore(db),
            index=index,
            index_lock=threading.Lock(),
            blobs=LocalBlobStore(folder / "blobs"),
            parser=IsolatedParser(),
            chunker=chunker,
            keyword_chunker=chunker,
            analyzer=Analyzer(),
            embedder=embedder,
            limits=ParseLimits(),
            metrics=Metrics(),
        )
    finally:
        index.close()
