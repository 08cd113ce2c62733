"""Bring a restored data dir's index in line with its database, from the chunks' tokens and vectors.

The repair ``ragworks serve`` runs at start-up (``engines/index/repair.py``), with progress: a copied
index that already holds exactly the served keys is used as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ragworks.backup.manifest import CollectionCounts
from ragworks.backup.progress import Reporter
from ragworks.engines.index.repair import repair_collection
from ragworks.engines.store.base import ChunkStore


@dataclass(frozen=True, slots=True)
class IndexRepair:
    """What one collection's index needed."""

    added: int
    removed: int
    indexed: int  # keys the index holds afterwards


def rebuild_index(
    index_dir: Path, chunks: ChunkStore, collections: Sequence[CollectionCounts], reporter: Reporter
) -> dict[str, IndexRepair]:
    """Make the index under ``index_dir`` hold exactly the chunks ``chunks`` serves, per collection.

    Progress counts served chunks: those the index already holds at once, the rest as they are added.
    """
    reporter.stage("checking and rebuilding the index", sum(c.chunks for c in collections))
    return {
        collection.name: _repair(index_dir, chunks, collection.name, collection.dimension, reporter)
        for collection in collections
        if collection.dimension is not None  # None: no chunks, nothing to index
    }


def _repair(
    index_dir: Path, chunks: ChunkStore, name: str, dimension: int, reporter: Reporter
) -> IndexRepair:
    from ragworks.engines.index.local import LocalSearchIndex  # tantivy and usearch only when restoring

    index = LocalSearchIndex(index_dir, dimension)
    index.start()
    try:
        repair = repair_collection(index, chunks, name, dimension, on_added=reporter.advance)
        reporter.advance(repair.already)
        return IndexRepair(added=repair.added, removed=repair.removed, indexed=index.count(name))
    finally:
        index.close()
