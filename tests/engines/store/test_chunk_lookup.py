"""SqlChunkStore.lookup on its fast SQLite path: the same records as the rows mapped by name."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from helpers.store import draft, new_chunks, ready_document
from ragworks.domain import ChunkRecord, Document
from ragworks.engines.store.rows import chunk_from_row, document_from_row
from ragworks.engines.store.schema import chunks, documents
from ragworks.engines.store.sql import SqlMetadataStore
from ragworks.engines.store.sql_chunks import SqlChunkStore

METADATA: dict[str, Any] = {
    "team": "billing",
    "year": 2024,
    "score": 0.5,
    "flag": True,
    "none": None,
    "tags": ["a", "ü", "지사"],
    "nested": {"deep": [1, {"x": "y"}]},
}


def reference(chunk_store: SqlChunkStore, keys: list[int]) -> dict[int, tuple[ChunkRecord, Document]]:
    """Served chunks read with every column and mapped by name (the long-standing row mappers)."""
    query = (
        select(chunks, documents)
        .join(
            documents,
            (documents.c.collection == chunks.c.collection)
            & (documents.c.id == chunks.c.document_id)
            & (documents.c.active_version == chunks.c.version),
        )
        .where(chunks.c.key.in_(keys), documents.c.status != "deleted")
    )
    with chunk_store.db.reader.connect() as conn:
        return {row.key: (chunk_from_row(row), document_from_row(row)) for row in conn.execute(query)}


@pytest.fixture
def keys(store: SqlMetadataStore, chunk_store: SqlChunkStore, collection: str) -> list[int]:
    """Chunks of served documents with varied metadata, plus chunks searches must not see."""
    served = ready_document(store, chunk_store, collection, "rich", metadata=METADATA, chunk_count=3)
    served += ready_document(store, chunk_store, collection, "plain", chunk_count=2)
    store.accept_document(draft(collection, "titled", title="Ünïcode title"), {}, 4)
    _, titled = chunk_store.replace_chunks(collection, "titled", 1, new_chunks(2, prefix="t"))
    chunk_store.activate_version(collection, "titled", 1, 2)
    store.accept_document(draft(collection, "pending"), {}, 4)  # never activated
    _, pending = chunk_store.replace_chunks(collection, "pending", 1, new_chunks(2))
    gone = ready_document(store, chunk_store, collection, "gone")
    store.request_delete(collection, "gone", 4)
    return served + titled + pending + gone + [999_999]


def test_lookup_gives_the_records_mapped_by_name(chunk_store: SqlChunkStore, keys: list[int]) -> None:
    found = chunk_store.lookup(keys)

    assert found == reference(chunk_store, keys)
    assert len(found) == 7  # pending, deleted and unknown keys are not served
    assert found[keys[0]][1].metadata == METADATA


def test_the_portable_path_gives_the_same_records(chunk_store: SqlChunkStore, keys: list[int]) -> None:
    fast = chunk_store.lookup(keys)
    dialect = chunk_store.db.reader.dialect
    original = dialect.name
    dialect.name = "portable"  # any other database goes through SQLAlchemy
    try:
        assert chunk_store.lookup(keys) == fast
    finally:
        dialect.name = original


def test_more_keys_than_one_statement_takes(
    store: SqlMetadataStore, chunk_store: SqlChunkStore, collection: str
) -> None:
    many = ready_document(store, chunk_store, collection, "big", chunk_count=1200)
    asked = many + [10**9 + i for i in range(300)]  # unknown keys in the same batches

    found = chunk_store.lookup(asked)

    assert set(found) == set(many)
    assert found == reference(chunk_store, many)


def test_metadata_changes_show_at_once(
    store: SqlMetadataStore, chunk_store: SqlChunkStore, collection: str
) -> None:
    [key] = ready_document(store, chunk_store, collection, "a", metadata={"v": 1}, chunk_count=1)
    assert chunk_store.lookup([key])[key][1].metadata == {"v": 1}

    outcome = store.accept_document(draft(collection, "a", metadata={"v": 2}), {}, 4).outcome

    assert outcome == "metadata_updated"
    assert chunk_store.lookup([key])[key][1].metadata == {"v": 2}


def test_no_keys_no_query(chunk_store: SqlChunkStore) -> None:
    assert chunk_store.lookup([]) == {}


@pytest.mark.parametrize("dialect_name", ["sqlite", "portable"])
def test_missing_collection_names_the_first_unknown_one(
    store: SqlMetadataStore, chunk_store: SqlChunkStore, collection: str, dialect_name: str
) -> None:
    store.create_collection("other", "en", "")
    dialect = chunk_store.db.reader.dialect
    original, dialect.name = dialect.name, dialect_name
    try:
        assert chunk_store.missing_collection([collection, "other", collection]) is None
        assert chunk_store.missing_collection(["nope", collection, "nada"]) == "nope"
        assert chunk_store.missing_collection([collection, "nada", "nope"]) == "nada"
        assert chunk_store.missing_collection([]) is None
    finally:
        dialect.name = original
