"""SqlChunkStore.lookup and missing_collection: the contract suites, and the SQLite fast path checked
against the rows mapped by name and against the portable SQLAlchemy path."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import select

from helpers.store import SqliteStores, ready_document
from ragworks.domain import ChunkRecord, Document
from ragworks.engines.store.rows import chunk_from_row, document_from_row
from ragworks.engines.store.schema import chunks, documents
from ragworks.engines.store.sql import SqlMetadataStore
from ragworks.engines.store.sql_chunks import SqlChunkStore
from ragworks.testing.chunk_contract import LookupTest, MissingCollectionTest


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


@contextmanager
def portable_path(chunk_store: SqlChunkStore) -> Iterator[None]:
    """Make the store take the path of any other database (through SQLAlchemy) for a while."""
    dialect = chunk_store.db.reader.dialect
    original, dialect.name = dialect.name, "portable"
    try:
        yield
    finally:
        dialect.name = original


class TestSqlChunkLookup(SqliteStores, LookupTest, MissingCollectionTest):
    """Lookups on a real SQLite file; ``mixed_keys`` comes from ``LookupTest``."""

    def test_lookup_gives_the_records_mapped_by_name(
        self, chunk_store: SqlChunkStore, mixed_keys: list[int]
    ) -> None:
        assert chunk_store.lookup(mixed_keys) == reference(chunk_store, mixed_keys)

    def test_the_portable_path_gives_the_same_records(
        self, chunk_store: SqlChunkStore, mixed_keys: list[int]
    ) -> None:
        fast = chunk_store.lookup(mixed_keys)

        with portable_path(chunk_store):
            assert chunk_store.lookup(mixed_keys) == fast

    def test_more_keys_than_one_statement_takes(
        self, store: SqlMetadataStore, chunk_store: SqlChunkStore, collection: str
    ) -> None:
        many = ready_document(store, chunk_store, collection, "big", chunk_count=1200)

        assert chunk_store.lookup(many + [10**9 + i for i in range(300)]) == reference(chunk_store, many)

    def test_missing_collection_on_the_portable_path(
        self, store: SqlMetadataStore, chunk_store: SqlChunkStore, collection: str
    ) -> None:
        store.create_collection("other", "en", "")

        with portable_path(chunk_store):
            assert chunk_store.missing_collection([collection, "other", collection]) is None
            assert chunk_store.missing_collection(["nope", collection, "nada"]) == "nope"
            assert chunk_store.missing_collection([collection, "nada", "nope"]) == "nada"
            assert chunk_store.missing_collection([]) is None
