"""The Embedder port: texts in, L2-normalised float32 vectors out."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt


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
