"""Make a collection's index hold exactly the chunks the store serves, from their tokens and vectors.

Used at start-up (``Container.reconcile_index``, after a crash or damage) and by ``ragworks restore``.
Chunk keys are never reused and a chunk row never changes, so an index that holds exactly the served
keys holds exactly the served chunks.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

from ragworks.engines.index.base import SearchIndex
from ragworks.engines.store.base import ChunkStore

BATCH = 5000  # entries per add and commit: memory stays bounded at any collection size


@dataclass(frozen=True, slots=True)
class IndexRepair:
    """What one collection's index needed."""

    added: int
    removed: int
    already: int  # served keys the index held before


def repair_collection(
    index: SearchIndex,
    chunks: ChunkStore,
    collection: str,
    dimension: int,
    on_added: Callable[[int], None] | None = None,
) -> IndexRepair:
    """Remove the keys the store does not serve and add the served ones the index lacks (in batches,
    each committed; ``on_added`` hears each batch's size)."""
    served, indexed = chunks.served_keys(collection), index.keys(collection)
    missing, extra = served - indexed, indexed - served
    if extra:
        index.remove(collection, sorted(extra))
        index.commit()
    entries = chunks.index_entries(missing, dimension)
    while batch := list(itertools.islice(entries, BATCH)):
        index.add(collection, batch)
        index.commit()
        if on_added is not None:
            on_added(len(batch))
    return IndexRepair(added=len(missing), removed=len(extra), already=len(served) - len(missing))
