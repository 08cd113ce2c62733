"""Builders for metadata-store, chunk-store and queue tests on a real SQLite file."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ragworks.domain import DocumentDraft, NewChunk
from ragworks.engines.store.sql import SqlDatabase, SqlMetadataStore
from ragworks.engines.store.sql_chunks import SqlChunkStore

DIMENSION = 4


@contextmanager
def open_database(folder: Path) -> Iterator[SqlDatabase]:
    """A migrated SQLite database in ``folder``, closed on exit."""
    db = SqlDatabase(f"sqlite:///{folder / 'db.sqlite'}")
    db.start()
    try:
        yield db
    finally:
        db.close()


def draft(
    collection: str,
    document_id: str,
    content: str = "some text",
    metadata: dict[str, Any] | None = None,
    title: str | None = None,
) -> DocumentDraft:
    """A document draft whose hash is derived from ``content``."""
    return DocumentDraft(
        collection=collection,
        id=document_id,
        title=title,
        metadata=metadata or {},
        content_hash=hashlib.sha256(content.encode()).hexdigest(),
        source=None,
        mime="text/plain",
        size_bytes=len(content),
    )


def vector(*values: float) -> bytes:
    """float32 little-endian bytes of ``values``, padded with zeros to DIMENSION."""
    padded = list(values) + [0.0] * (DIMENSION - len(values))
    return np.asarray(padded, dtype="<f4").tobytes()


def new_chunks(count: int, prefix: str = "chunk") -> list[NewChunk]:
    """``count`` small chunks with tokens and a distinct vector each."""
    return [
        NewChunk(
            ordinal=i,
            text=f"{prefix} {i}",
            start=i * 10,
            end=i * 10 + 9,
            page=None,
            heading=None,
            language="en",
            tokens=[prefix, str(i)],
            vector=vector(float(i), 1.0),
        )
        for i in range(count)
    ]


def ready_document(
    store: SqlMetadataStore,
    chunk_store: SqlChunkStore,
    collection: str,
    document_id: str,
    metadata: dict[str, Any] | None = None,
    chunk_count: int = 2,
) -> list[int]:
    """Accept a document and make its first version searchable; returns its chunk keys."""
    accepted = store.accept_document(draft(collection, document_id, metadata=metadata), {}, 4)
    version = accepted.document.version
    _, keys = chunk_store.replace_chunks(collection, document_id, version, new_chunks(chunk_count))
    chunk_store.activate_version(collection, document_id, version, chunk_count)
    return keys
