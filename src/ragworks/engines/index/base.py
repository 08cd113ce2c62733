"""The search ports: a keyword (BM25) leg and a vector leg, namespaced by collection.

Searching is two ports, ``KeywordSearch`` and ``VectorSearch``, so a retriever can take its legs from
different engines; ``SearchIndex`` is an engine that holds both legs and is written through one API
(the embedded tantivy + usearch index, PostgreSQL with pgvector).
"""

from __future__ import annotations

from collections.abc import Collection as AbstractSet
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]
MAX_KEY = 2**63 - 1  # chunk keys are signed 64-bit integers in every index


def check_key(key: int) -> int:
    """Return ``key`` if it fits the signed 64-bit key space, else raise ValueError."""
    if not 0 <= key <= MAX_KEY:
        raise ValueError(f"chunk key out of range: {key}")
    return key


def check_vector(vector: Any, dimension: int) -> Vector:
    """Return ``vector`` as a contiguous float32 array, or raise ValueError on a wrong shape or a
    component that is not finite."""
    arr = np.ascontiguousarray(vector, dtype=np.float32)
    if arr.shape != (dimension,):
        raise ValueError(f"vector has shape {arr.shape}, expected ({dimension},)")
    if not np.isfinite(arr).all():
        raise ValueError("vector has NaN or infinite components")
    return arr


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One chunk as the index sees it.

    ``key`` is the chunk's globally unique integer id, assigned by the metadata store; the index
    returns keys and the caller joins them back to chunk records.
    """

    key: int
    tokens: Sequence[str]  # analyzer output (BM25 terms), already normalised
    vector: Vector  # L2-normalised embedding, float32


@dataclass(frozen=True, slots=True)
class Hit:
    key: int
    score: float


class KeywordSearch(Protocol):
    """The keyword leg: BM25 over analyzer tokens."""

    def keyword_search(
        self,
        collection: str,
        tokens: Sequence[str],
        limit: int,
        allowed: AbstractSet[int] | None = None,
    ) -> list[Hit]:
        """BM25 over analyzer tokens, best first; ``allowed`` restricts results to those keys.

        Returns an empty list for an unknown collection or no tokens.
        """


class VectorSearch(Protocol):
    """The vector leg: nearest neighbours by cosine similarity."""

    def vector_search(
        self,
        collection: str,
        vector: Vector,
        limit: int,
        allowed: AbstractSet[int] | None = None,
    ) -> list[Hit]:
        """Nearest chunks by cosine similarity (score in [-1, 1]), best first; ``allowed`` restricts
        results to those keys (exactly, not approximately)."""


class SearchIndex(KeywordSearch, VectorSearch, Protocol):
    """Hybrid index of chunks, one namespace per collection.

    All methods are synchronous and may block: callers run them off the event loop. Adding an
    existing key replaces it. Writes become visible to searches after ``commit``.
    """

    def start(self) -> None:
        """Open or create the on-disk state. Called once before any other method."""

    def close(self) -> None:
        """Persist and release resources."""

    def add(self, collection: str, entries: Sequence[IndexEntry]) -> None:
        """Stage entries for ``collection`` (created on first use).

        Raises:
            ValueError: a vector has the wrong dimension.
        """

    def remove(self, collection: str, keys: Sequence[int]) -> None:
        """Stage removal of ``keys`` from both legs; unknown keys are ignored."""

    def commit(self) -> None:
        """Make staged adds and removals visible to searches and durable enough to survive a restart
        (the keyword leg is durable; the vector leg may be rebuilt from the store on start)."""

    def drop_collection(self, collection: str) -> None:
        """Delete everything of ``collection``, on disk too."""

    def count(self, collection: str) -> int:
        """Number of committed chunks in ``collection`` (0 when unknown)."""

    def keys(self, collection: str) -> set[int]:
        """All committed keys of ``collection`` (used to check the index against the store)."""

    def size_bytes(self) -> int:
        """Bytes the index uses on disk, all collections together."""
