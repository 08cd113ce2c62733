"""Start-up repairs: the index is made to hold exactly what the store serves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ragworks.config import Settings
from ragworks.container import Container
from ragworks.domain import DocumentDraft, NewChunk
from ragworks.engines.index.base import IndexEntry
from ragworks.errors import Conflict
from ragworks.roles.embedded import build_embedded


def _served_document(container: Container) -> list[int]:
    """A ready document whose chunk rows exist in the store but not in the index (as after a crash)."""
    store, chunks = container.store, container.chunks
    store.create_collection("c", "auto", "")
    draft = DocumentDraft("c", "d", None, {}, "hash", None, "text/plain", 5)
    store.accept_document(draft, {"text": "x"}, max_attempts=1)
    vector = np.ones(384, dtype=np.float32) / np.sqrt(384)
    rows = [NewChunk(0, "tidal power", 0, 11, None, None, "en", ["tidal", "power"], vector.tobytes())]
    _, keys = chunks.replace_chunks("c", "d", 1, rows)
    chunks.activate_version("c", "d", 1, len(keys))
    return keys


def test_reconcile_adds_what_the_index_lost_and_drops_strays(tmp_path: Path) -> None:
    container = build_embedded(Settings(data_dir=tmp_path))
    container.start_engines()
    try:
        keys = _served_document(container)
        stray = IndexEntry(key=999, tokens=["stray"], vector=np.ones(384, dtype=np.float32) / np.sqrt(384))
        container.index.add("c", [stray])
        container.index.commit()
        container.reconcile_index()
        assert container.index.keys("c") == set(keys)
        assert [h.key for h in container.index.keyword_search("c", ["tidal"], 5)] == keys
    finally:
        container.stop_engines()


def test_a_second_process_cannot_open_the_same_data_dir(tmp_path: Path) -> None:
    first = build_embedded(Settings(data_dir=tmp_path))
    first.start_engines()
    try:
        with pytest.raises(Conflict):
            build_embedded(Settings(data_dir=tmp_path)).start_engines()
    finally:
        first.stop_engines()
