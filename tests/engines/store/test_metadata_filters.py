"""SqlChunkStore.served_keys with metadata filters on the documents' JSON metadata."""

from __future__ import annotations

from typing import Any

import pytest

from helpers.store import draft, ready_document
from ragworks.domain import FieldFilter
from ragworks.engines.store.sql import SqlMetadataStore
from ragworks.engines.store.sql_chunks import SqlChunkStore
from ragworks.errors import BadRequest

DOCUMENTS: dict[str, dict[str, Any]] = {
    "a": {"year": 2020, "lang": "en", "draft": True},
    "b": {"year": 2022, "lang": "ko", "draft": False},
    "c": {"year": 2024.5, "lang": "en"},
    "d": {},
}


@pytest.fixture
def keys_by_document(
    store: SqlMetadataStore, chunk_store: SqlChunkStore, collection: str
) -> dict[str, set[int]]:
    return {
        name: set(ready_document(store, chunk_store, collection, name, metadata=metadata))
        for name, metadata in DOCUMENTS.items()
    }


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
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
    ],
    ids=lambda value: repr(value) if isinstance(value, str) else None,
)
def test_served_keys_with_filters(
    chunk_store: SqlChunkStore,
    collection: str,
    keys_by_document: dict[str, set[int]],
    filters: list[FieldFilter],
    expected: str,
) -> None:
    wanted = set().union(*(keys_by_document[name] for name in expected))

    assert chunk_store.served_keys(collection, filters) == wanted


def test_served_keys_without_filters_is_every_document(
    chunk_store: SqlChunkStore, collection: str, keys_by_document: dict[str, set[int]]
) -> None:
    assert chunk_store.served_keys(collection) == set().union(*keys_by_document.values())


def test_filters_see_metadata_updates_at_once(
    store: SqlMetadataStore, chunk_store: SqlChunkStore, collection: str
) -> None:
    keys = set(ready_document(store, chunk_store, collection, "a", metadata={"tag": "old"}))
    accepted = store.accept_document(draft(collection, "a", metadata={"tag": "new"}), {}, 4)

    assert accepted.outcome == "metadata_updated"
    assert chunk_store.served_keys(collection, [FieldFilter("tag", "eq", "new")]) == keys
    assert chunk_store.served_keys(collection, [FieldFilter("tag", "eq", "old")]) == set()


@pytest.mark.parametrize(
    "bad",
    [
        FieldFilter("year", "in", []),
        FieldFilter("year", "in", 2020),
        FieldFilter("year", "near", 2020),
        FieldFilter("year", "eq", {"nested": 1}),
        FieldFilter("year", "eq", None),
    ],
    ids=["empty-in", "in-scalar", "unknown-op", "object-value", "null-value"],
)
def test_invalid_filters_are_bad_requests(
    chunk_store: SqlChunkStore, collection: str, bad: FieldFilter
) -> None:
    with pytest.raises(BadRequest):
        chunk_store.served_keys(collection, [bad])
