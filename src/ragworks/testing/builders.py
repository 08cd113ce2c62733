"""Builders the store, chunk and queue contract suites share: drafts, chunks, vectors, filter cases."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from ragworks.domain import DocumentDraft, FieldFilter, NewChunk
from ragworks.engines.store.base import ChunkStore, MetadataStore

DIMENSION = 4

# Documents with varied metadata, and filters with the names of the documents each one matches.
FILTERED_DOCUMENTS: dict[str, dict[str, Any]] = {
    "a": {"year": 2020, "lang": "en", "draft": True},
    "b": {"year": 2022, "lang": "ko", "draft": False},
    "c": {"year": 2024.5, "lang": "en"},
    "d": {},
}
FILTER_CASES: list[tuple[list[FieldFilter], str]] = [
    ([FieldFilter("year", "eq", 2022)], "b"),
    ([FieldFilter("year", "eq", 2024.5)], "c"),
    ([FieldFilter("lang", "eq", "en")], "ac"),
    ([FieldFilter("draft", "eq", True)], "a"),
    ([FieldFilter("draft", "eq", False)], "b"),
    ([FieldFilter("year", "in", [2020, 2024.5])], "ac"),
    ([FieldFilter("lang", "in", ["ko", "fr"])], "b"),
    ([FieldFilter("year", "gte", 2022)], "bc"),
    ([FieldFilter("year", "gt", 2022)], "c"),
    ([FieldFilter("year", "lt", 2022)], "a"),
    ([FieldFilter("year", "lte", 2022)], "ab"),
    ([FieldFilter("lang", "gte", "f")], "b"),
    ([FieldFilter("lang", "ne", "en")], "bd"),
    ([FieldFilter("year", "ne", 2020)], "bcd"),
    ([FieldFilter("draft", "ne", True)], "bcd"),
    ([FieldFilter("lang", "eq", "en"), FieldFilter("year", "gte", 2021)], "c"),
    ([FieldFilter("lang", "eq", "de")], ""),
    ([FieldFilter("missing", "eq", "x")], ""),
]
INVALID_FILTERS: dict[str, FieldFilter] = {
    "empty-in": FieldFilter("year", "in", []),
    "in-scalar": FieldFilter("year", "in", 2020),
    "unknown-op": FieldFilter("year", "near", 2020),
    "object-value": FieldFilter("year", "eq", {"nested": 1}),
    "null-value": FieldFilter("year", "eq", None),
}


def case_id(value: object) -> str | None:
    """Test ids for ``FILTER_CASES``: the expected document names, quoted."""
    return repr(value) if isinstance(value, str) else None


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


def accept(store: MetadataStore, collection: str, document_id: str, content: str = "one") -> int:
    """Accept a document and return the version it got."""
    return store.accept_document(draft(collection, document_id, content=content), {}, 4).document.version


def ready_document(
    store: MetadataStore,
    chunk_store: ChunkStore,
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
