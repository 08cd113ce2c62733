"""Bring a restored data dir's index in line with its database, from the chunks' tokens and vectors.

The same repair ``ragworks serve`` runs at start-up (``Container.reconcile_index``), with progress:
keys the store serves but the index lacks are added, keys the index holds but the store does not
serve are removed. Chunk keys are never reused and a chunk row never changes, so an index holding
exactly the served keys holds exactly the served chunks: a copied index that passes is used as it is.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ragworks.backup.manifest import CollectionCounts
from ragworks.backup.progress import Reporter
from ragworks.engines.store.base import ChunkStore

BATCH = 5000  # entries per add and commit: memory stays bounded at any collection size


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
        served, indexed = chunks.served_keys(name), index.keys(name)
        missing, extra = served - indexed, indexed - served
        reporter.advance(len(served) - len(missing))
        index.remove(name, sorted(extra))
        index.commit()
        entries = chunks.index_entries(missing, dimension)
        while batch := list(itertools.islice(entries, BATCH)):
            index.add(name, batch)
            index.commit()
            reporter.advance(len(batch))
        return IndexRepair(added=len(missing), removed=len(extra), indexed=index.count(name))
    finally:
        index.close()
