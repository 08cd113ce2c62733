"""Chunk records on SQL: the source of truth the search index is rebuilt from."""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from collections.abc import Collection as AbstractSet
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from sqlalchemy import Connection, bindparam, delete, insert, select, update

from ragworks.domain import ChunkRecord, Document, DocumentStatus, FieldFilter, NewChunk
from ragworks.engines.index.base import IndexEntry
from ragworks.engines.store.filters import metadata_condition
from ragworks.engines.store.rows import document_from_row
from ragworks.engines.store.schema import chunks, collections, documents
from ragworks.engines.store.sql import SqlDatabase, chunked

_SERVED = documents.c.status != DocumentStatus.DELETED
_ACTIVE_JOIN = (
    (documents.c.collection == chunks.c.collection)
    & (documents.c.id == chunks.c.document_id)
    & (documents.c.active_version == chunks.c.version)
)

# ``lookup`` is on the path of every search: it reads only the columns the records need (not the
# stored tokens and vector), in the order of the records' fields, so records are built from row
# positions. On SQLite it runs one prepared SQL text on a pooled DB-API connection: SQLAlchemy's
# per-execution work (parameter expansion, result processing, BEGIN/ROLLBACK around a one-statement
# read) cost more than the query itself. Other databases get the same statement through SQLAlchemy.
_CHUNK_FIELDS = [f.name for f in dataclasses.fields(ChunkRecord)]
_DOCUMENT_FIELDS = [f.name for f in dataclasses.fields(Document)]
_LOOKUP = (
    select(*(chunks.c[name] for name in _CHUNK_FIELDS), *(documents.c[name] for name in _DOCUMENT_FIELDS))
    .join(documents, _ACTIVE_JOIN)
    .where(chunks.c.key.in_(bindparam("keys", expanding=True)), _SERVED)
)
_CHUNK_WIDTH = len(_CHUNK_FIELDS)
_METADATA_AT = _DOCUMENT_FIELDS.index("metadata")
_STATUS_AT = _DOCUMENT_FIELDS.index("status")


@functools.lru_cache(maxsize=64)
def _sqlite_lookup(count: int) -> str:
    """``_LOOKUP`` as SQLite text for ``count`` keys (parameters: the keys, then the deleted status)."""
    columns = [f'c."{name}"' for name in _CHUNK_FIELDS] + [f'd."{name}"' for name in _DOCUMENT_FIELDS]
    return (
        f"SELECT {', '.join(columns)} FROM {chunks.name} AS c JOIN {documents.name} AS d"
        " ON d.collection = c.collection AND d.id = c.document_id AND d.active_version = c.version"
        f' WHERE c."key" IN ({", ".join("?" * count)}) AND d.status != ?'
    )


def _records(row: Sequence[Any], metadata_is_text: bool) -> tuple[ChunkRecord, Document]:
    fields = list(row[_CHUNK_WIDTH:])
    metadata = fields[_METADATA_AT]
    if metadata_is_text and metadata is not None:
        metadata = json.loads(metadata)
    fields[_METADATA_AT] = dict(metadata or {})
    fields[_STATUS_AT] = DocumentStatus(fields[_STATUS_AT])
    return ChunkRecord(*row[:_CHUNK_WIDTH]), Document(*fields)


class SqlChunkStore:
    """Chunk rows keyed by an integer that the search index uses as its key."""

    def __init__(self, db: SqlDatabase) -> None:
        self.db = db

    def replace_chunks(
        self, collection: str, document_id: str, version: int, rows: Sequence[NewChunk]
    ) -> tuple[list[int], list[int]]:
        """Store the chunks of one version, replacing any left by an earlier attempt.

        Returns (keys removed, keys added); the caller mirrors both in the index.
        """
        with self.db.writer.begin() as conn:
            old = self._keys_of(conn, collection, document_id, version, version)
            if old:
                conn.execute(delete(chunks).where(chunks.c.key.in_(old)))
            added: list[int] = []
            for row in rows:
                result = conn.execute(
                    insert(chunks).values(
                        collection=collection,
                        document_id=document_id,
                        version=version,
                        ordinal=row.ordinal,
                        text=row.text,
                        start=row.start,
                        end=row.end,
                        page=row.page,
                        heading=row.heading,
                        language=row.language,
                        tokens=" ".join(row.tokens),
                        vector=row.vector,
                    )
                )
                primary_key = result.inserted_primary_key
                assert primary_key is not None  # an INSERT always reports its key
                added.append(int(primary_key[0]))
        return old, added

    def activate_version(
        self, collection: str, document_id: str, version: int, chunk_count: int
    ) -> list[int] | None:
        """Atomically make ``version`` the one searches see and drop older versions' chunk rows.

        Returns the removed keys, or None when the document was deleted or a newer version is
        already active (the caller then drops the chunks it just wrote).
        """
        with self.db.writer.begin() as conn:
            row = conn.execute(
                select(documents).where(documents.c.collection == collection, documents.c.id == document_id)
            ).first()
            if row is None:
                return None
            document = document_from_row(row)
            if document.status == DocumentStatus.DELETED or (document.active_version or 0) > version:
                return None
            status = DocumentStatus.READY if document.version == version else document.status
            conn.execute(
                update(documents)
                .where(documents.c.collection == collection, documents.c.id == document_id)
                .values(
                    active_version=version,
                    status=status,
                    chunk_count=chunk_count,
                    error_code=None if status == DocumentStatus.READY else document.error_code,
                    error_message=None if status == DocumentStatus.READY else document.error_message,
                    updated_at=time.time(),
                )
            )
            old = self._keys_of(conn, collection, document_id, 0, version - 1)
            if old:
                conn.execute(delete(chunks).where(chunks.c.key.in_(old)))
        return old

    def purge_document(self, collection: str, document_id: str) -> list[int]:
        """Delete a document and all its chunk rows; returns the chunk keys to remove from the index."""
        with self.db.writer.begin() as conn:
            keys = self._keys_of(conn, collection, document_id, 0, 2**31)
            conn.execute(
                delete(chunks).where(chunks.c.collection == collection, chunks.c.document_id == document_id)
            )
            conn.execute(
                delete(documents).where(documents.c.collection == collection, documents.c.id == document_id)
            )
        return keys

    def lookup(self, keys: Sequence[int]) -> dict[int, tuple[ChunkRecord, Document]]:
        """Chunks (with their documents) among ``keys`` that searches may see: active version, not deleted."""
        parts = chunked(list(keys))
        if not parts:
            return {}
        if self.db.reader.dialect.name == "sqlite":
            return self._lookup_sqlite(parts)
        found: dict[int, tuple[ChunkRecord, Document]] = {}
        with self.db.reader.connect() as conn:
            for part in parts:
                for row in conn.execute(_LOOKUP, {"keys": list(part)}):
                    chunk, document = _records(row, metadata_is_text=False)
                    found[chunk.key] = (chunk, document)
        return found

    def missing_collection(self, names: Sequence[str]) -> str | None:
        """The first of ``names`` that is not a collection, or None (the check before every search)."""
        wanted = list(dict.fromkeys(names))
        if not wanted:
            return None
        if self.db.reader.dialect.name == "sqlite":
            connection = self.db.reader.raw_connection()
            try:
                cursor = connection.cursor()
                marks = ", ".join("?" * len(wanted))
                cursor.execute(f"SELECT name FROM {collections.name} WHERE name IN ({marks})", wanted)
                known = {name for (name,) in cursor.fetchall()}
                cursor.close()
            finally:
                connection.close()
        else:
            with self.db.reader.connect() as conn:
                query = select(collections.c.name).where(collections.c.name.in_(wanted))
                known = set(conn.execute(query).scalars())
        return next((name for name in names if name not in known), None)

    def _lookup_sqlite(self, parts: list[Sequence[int]]) -> dict[int, tuple[ChunkRecord, Document]]:
        found: dict[int, tuple[ChunkRecord, Document]] = {}
        connection = self.db.reader.raw_connection()  # autocommit: one SELECT is one snapshot
        try:
            cursor = connection.cursor()
            if len(parts) > 1:
                cursor.execute("BEGIN")  # one snapshot for all the parts
            try:
                for part in parts:
                    cursor.execute(_sqlite_lookup(len(part)), (*part, DocumentStatus.DELETED.value))
                    for row in cursor.fetchall():
                        chunk, document = _records(row, metadata_is_text=True)
                        found[chunk.key] = (chunk, document)
            finally:
                if len(parts) > 1:
                    cursor.execute("ROLLBACK")
                cursor.close()
        finally:
            connection.close()  # back to the pool
        return found

    def served_keys(self, collection: str, filters: Sequence[FieldFilter] = ()) -> set[int]:
        """Keys of the chunks searches may see in ``collection``, optionally only of matching documents."""
        query = (
            select(chunks.c.key)
            .join(documents, _ACTIVE_JOIN)
            .where(chunks.c.collection == collection, _SERVED)
        )
        if filters:
            query = query.where(metadata_condition(filters))
        with self.db.reader.connect() as conn:
            return {int(k) for k in conn.execute(query).scalars()}

    def index_entries(self, keys: AbstractSet[int], dimension: int) -> Iterator[IndexEntry]:
        """Index entries rebuilt from stored tokens and vectors."""
        with self.db.reader.connect() as conn:
            for part in chunked(sorted(keys)):
                rows = conn.execute(
                    select(chunks.c.key, chunks.c.tokens, chunks.c.vector).where(chunks.c.key.in_(part))
                )
                for key, tokens, vector in rows:
                    yield IndexEntry(
                        key=key,
                        tokens=tokens.split(),
                        vector=np.frombuffer(vector, dtype=np.float32, count=dimension),
                    )

    @staticmethod
    def _keys_of(conn: Connection, collection: str, document_id: str, low: int, high: int) -> list[int]:
        query = select(chunks.c.key).where(
            chunks.c.collection == collection,
            chunks.c.document_id == document_id,
            chunks.c.version >= low,
            chunks.c.version <= high,
        )
        return [int(k) for k in conn.execute(query).scalars()]
