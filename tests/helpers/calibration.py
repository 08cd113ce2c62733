"""A small English collection on a real SQLite store and tantivy/usearch index, for calibration tests
(the toy letter-count embedder stands in for the model, which has its own tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from helpers.pipeline import ToyEmbedder
from helpers.store import DIMENSION, draft, open_database
from ragworks.config import SearchSettings
from ragworks.domain import NewChunk
from ragworks.engines.index.base import IndexEntry
from ragworks.engines.index.local import LocalSearchIndex
from ragworks.engines.store.sql import SqlDatabase, SqlMetadataStore
from ragworks.engines.store.sql_chunks import SqlChunkStore
from ragworks.ingest.analysis import Analyzer
from ragworks.services.calibration import Calibrator
from ragworks.services.retrieve import Retriever

TOPICS = [
    (
        "Glaciers",
        "Glaciers retreat as summers grow warmer in the Alps. Meltwater feeds the rivers below "
        "the valley. Old photographs show the ice reaching the village church.",
    ),
    (
        "Refunds",
        "Refunds are paid within five working days of the request. A refund goes back to the card "
        "used for the purchase. Gift cards are refunded as store credit instead.",
    ),
    (
        "Running shoes",
        "Running shoes wear out after eight hundred kilometres of running. The foam loses its "
        "spring long before the sole shows wear. Rotate two pairs to let the foam recover.",
    ),
    (
        "Sourdough",
        "Sourdough bread rises with wild yeast kept in a starter. The starter is fed flour and "
        "water every day. A long cold proof gives the crumb its sour taste.",
    ),
    (
        "Volcanoes",
        "Volcanoes erupt when magma pressure exceeds the strength of the crust. Ash clouds can "
        "ground aircraft for days. Lava flows move slowly enough to walk away from.",
    ),
    (
        "Honeybees",
        "Honeybees dance to tell the hive where flowers grow. The angle of the waggle run points "
        "toward the sun. Its length says how far away the nectar is.",
    ),
]


@dataclass(slots=True)
class Engines:
    store: SqlMetadataStore
    chunk_store: SqlChunkStore
    index: LocalSearchIndex
    analyzer: Analyzer
    embedder: ToyEmbedder

    def calibrator(self, settings: SearchSettings) -> Calibrator:
        return Calibrator(self.store, self.chunk_store, self.index, self.analyzer, self.embedder, settings)

    def retriever(self, settings: SearchSettings) -> Retriever:
        return Retriever(self.store, self.chunk_store, self.index, self.analyzer, self.embedder, settings)

    def add(self, collection: str, document_id: str, title: str, text: str) -> None:
        """One ready document of one chunk, indexed as the pipeline indexes it (title line + text)."""
        indexed = f"{title}\n{text}"
        tokens = self.analyzer.tokens(indexed)
        vector = self.embedder.embed([indexed])[0]
        self.store.accept_document(draft(collection, document_id, content=text, title=title), {}, 4)
        row = NewChunk(0, text, 0, len(text), None, None, "en", tokens, vector.tobytes())
        _, keys = self.chunk_store.replace_chunks(collection, document_id, 1, [row])
        self.chunk_store.activate_version(collection, document_id, 1, 1)
        self.index.add(collection, [IndexEntry(keys[0], tokens, vector)])
        self.index.commit()


@contextmanager
def open_engines(folder: Path) -> Iterator[tuple[SqlDatabase, Engines]]:
    """Started engines over a fresh database and index in ``folder``, with collection ``docs`` holding
    one document per topic."""
    with open_database(folder) as db:
        index = LocalSearchIndex(folder / "index", DIMENSION)
        index.start()
        engines = Engines(SqlMetadataStore(db), SqlChunkStore(db), index, Analyzer(), ToyEmbedder())
        engines.analyzer.start()  # Kiwi, for the Korean queries some tests make
        engines.store.create_collection("docs", "en", "")
        for number, (title, text) in enumerate(TOPICS):
            engines.add("docs", f"d{number}", title, text)
        try:
            yield db, engines
        finally:
            index.close()
