"""Embedded SearchIndex: a tantivy BM25 leg and a usearch HNSW leg per collection, on local disk.

Layout: ``root/collections/<name>/keyword/`` (tantivy) and ``root/collections/<name>/vectors.*``
(see ``vectors.py`` for the snapshot + write-ahead-log scheme). Collections open lazily on first
use. On open the two legs are trimmed to the keys they have in common, so after a crash between
the two legs' commits ``keys``/``count`` report exactly what both legs hold and the caller re-adds
the rest from the metadata store.

Threads: ``add``/``remove``/``commit``/``drop_collection`` come from one writer thread; searches,
``count`` and ``keys`` may run concurrently from others. Opening a collection is serialised by a
lock; each leg protects its own state (see ``keyword.py`` and ``vectors.py``).
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Collection as AbstractSet
from collections.abc import Sequence
from pathlib import Path

from ragworks.engines.index.base import Hit, IndexEntry, Vector, check_key, check_vector
from ragworks.engines.index.keyword import KeywordIndex
from ragworks.engines.index.vectors import VectorIndex

log = logging.getLogger(__name__)


class _Collection:
    """Both legs of one collection."""

    def __init__(self, path: Path, dimension: int) -> None:
        self.keyword = KeywordIndex(path / "keyword")
        self.vectors = VectorIndex(path, dimension)
        self._reconcile()

    def _reconcile(self) -> None:
        """Trim both legs to their common keys after an interrupted commit."""
        kw_keys, vec_keys = self.keyword.keys(), self.vectors.keys()
        if kw_keys == vec_keys:
            return
        only_kw, only_vec = kw_keys - vec_keys, vec_keys - kw_keys
        log.warning(
            "index legs disagree: dropping %d keyword-only, %d vector-only keys", len(only_kw), len(only_vec)
        )
        self.keyword.remove(only_kw)
        self.vectors.remove(only_vec)
        self.vectors.commit()
        self.keyword.commit()

    def close(self) -> None:
        self.vectors.close()
        self.keyword.close()


class LocalSearchIndex:
    """SearchIndex on local disk under ``root`` for ``dimension``-d vectors."""

    def __init__(self, root: Path, dimension: int) -> None:
        self._root = Path(root)
        self._dim = dimension
        self._open: dict[str, _Collection] = {}
        self._lock = threading.Lock()  # serialises opening/dropping collections
        self._dirty: set[str] = set()

    def start(self) -> None:
        """Create the root folder; collections open lazily."""
        (self._root / "collections").mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        """Snapshot vector legs, release tantivy writers; uncommitted changes are discarded."""
        with self._lock:
            opened, self._open = self._open, {}
            self._dirty.clear()
        for coll in opened.values():
            coll.close()

    def _folder(self, collection: str) -> Path:
        base = (self._root / "collections").resolve()
        bad = not collection or collection in (".", "..") or any(c in collection for c in "/\\\0")
        folder = (base / collection).resolve()
        if bad or folder.parent != base:
            raise ValueError(f"invalid collection name: {collection!r}")
        return folder

    def _get(self, collection: str, create: bool) -> _Collection | None:
        coll = self._open.get(collection)
        if coll is not None:
            return coll
        folder = self._folder(collection)
        with self._lock:
            coll = self._open.get(collection)
            if coll is None and (create or folder.is_dir()):
                coll = self._open[collection] = _Collection(folder, self._dim)
            return coll

    def add(self, collection: str, entries: Sequence[IndexEntry]) -> None:
        """Stage entries; raises ValueError (staging nothing) on a bad vector or key."""
        checked = [(check_key(e.key), e.tokens, check_vector(e.vector, self._dim)) for e in entries]
        if not checked:
            return
        coll = self._get(collection, create=True)
        assert coll is not None
        coll.keyword.add((key, tokens) for key, tokens, _ in checked)
        coll.vectors.add((key, vector) for key, _, vector in checked)
        self._dirty.add(collection)

    def remove(self, collection: str, keys: Sequence[int]) -> None:
        """Stage removal of ``keys`` from both legs; unknown keys are ignored."""
        coll = self._get(collection, create=False)
        valid = [k for k in keys if 0 <= k < 2**63]
        if coll is None or not valid:
            return
        coll.keyword.remove(valid)
        coll.vectors.remove(valid)
        self._dirty.add(collection)

    def commit(self) -> None:
        """Commit every collection with staged changes, vector log first (see module docstring)."""
        dirty, self._dirty = self._dirty, set()
        for name in sorted(dirty):
            coll = self._open.get(name)
            if coll is not None:
                coll.vectors.commit()
                coll.keyword.commit()

    def keyword_search(
        self, collection: str, tokens: Sequence[str], limit: int, allowed: AbstractSet[int] | None = None
    ) -> list[Hit]:
        """BM25 over analyzer tokens, best first; [] for an unknown collection or no tokens."""
        coll = self._get(collection, create=False)
        return [] if coll is None else coll.keyword.search(tokens, limit, allowed)

    def vector_search(
        self, collection: str, vector: Vector, limit: int, allowed: AbstractSet[int] | None = None
    ) -> list[Hit]:
        """Nearest chunks by cosine similarity, best first, restricted exactly to ``allowed``."""
        check_vector(vector, self._dim)
        coll = self._get(collection, create=False)
        return [] if coll is None else coll.vectors.search(vector, limit, allowed)

    def drop_collection(self, collection: str) -> None:
        """Delete everything of ``collection``, on disk too."""
        folder = self._folder(collection)
        with self._lock:
            coll = self._open.pop(collection, None)
            self._dirty.discard(collection)
            if coll is not None:
                coll.keyword.close()  # no snapshot: the files are about to go
            shutil.rmtree(folder, ignore_errors=True)

    def count(self, collection: str) -> int:
        """Number of committed chunks (0 when unknown)."""
        coll = self._get(collection, create=False)
        return 0 if coll is None else coll.vectors.count()

    def keys(self, collection: str) -> set[int]:
        """All committed keys of ``collection``."""
        coll = self._get(collection, create=False)
        return set() if coll is None else coll.vectors.keys()

    def size_bytes(self) -> int:
        """Bytes used on disk by all collections."""
        total = 0
        for path in self._root.rglob("*"):
            try:
                total += path.stat().st_size if path.is_file() else 0
            except FileNotFoundError:  # tantivy merges delete segment files at any time
                continue
        return total
