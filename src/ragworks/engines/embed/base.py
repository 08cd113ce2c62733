"""The Embedder port: texts in, L2-normalised float32 vectors out."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from ragworks.errors import Conflict


class Embedder(Protocol):
    """Turns texts into dense vectors.

    ``languages`` lists the ISO 639-1 codes the model understands; retrieval gives the vector leg
    no weight for queries in other languages.
    """

    name: str
    dimension: int
    max_tokens: int
    languages: frozenset[str]

    def start(self) -> None:
        """Load the model (heavy; called once at start-up, never from a constructor)."""

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed ``texts`` in batches; returns an array of shape (len(texts), dimension), rows L2-normalised."""

    def count_tokens(self, text: str) -> int:
        """Number of model tokens of ``text`` without special tokens (for chunk sizing)."""


@runtime_checkable
class QueryEmbedder(Protocol):
    """An embedder with a path for single queries that may batch concurrent ones (optional)."""

    def submit_query(self, text: str) -> Future[npt.NDArray[np.float32]]:
        """Start embedding ``text``; the future's result is its vector, as ``embed([text])[0]``."""


def submit_query(embedder: Embedder, text: str) -> Future[npt.NDArray[np.float32]]:
    """Start embedding one query, through the embedder's query path when it has one."""
    if isinstance(embedder, QueryEmbedder):
        return embedder.submit_query(text)
    done: Future[npt.NDArray[np.float32]] = Future()
    done.set_result(embedder.embed([text])[0])
    return done


class EmbeddingModelMismatch(Conflict):
    """A collection's vectors were made by another model than this process's embedder: mixing the two
    vector spaces would rank by noise, so ingesting into it and vector search over it are refused."""

    code = "embedding_model_mismatch"

    def __init__(self, collection: str, recorded: tuple[str, int], embedder: tuple[str, int]) -> None:
        super().__init__(
            f"collection '{collection}' holds vectors of '{recorded[0]}' ({recorded[1]} dimensions) but "
            f"this server embeds with '{embedder[0]}' ({embedder[1]} dimensions); use an embedder serving "
            f"'{recorded[0]}', or another collection (keyword search still works)",
            details={
                "collection": collection,
                "collection_model": recorded[0],
                "collection_dimension": recorded[1],
                "embedder_model": embedder[0],
                "embedder_dimension": embedder[1],
            },
        )


def same_model(recorded: tuple[str, int], name: str, dimension: int) -> bool:
    """Whether vectors of ``(name, dimension)`` may be mixed with ``recorded`` ones; a publisher prefix
    ("sentence-transformers/all-MiniLM-L6-v2") names the same model as the bare name."""
    return recorded[1] == dimension and recorded[0].rsplit("/", 1)[-1] == name.rsplit("/", 1)[-1]
