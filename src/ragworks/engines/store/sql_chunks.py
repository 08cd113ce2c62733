"""Chunk records on SQL: the source of truth the search index is rebuilt from."""

from __future__ import annotations

import time
from collections.abc import Collection as AbstractSet
from collections.abc import Iterator, Sequence

import numpy as np
from sqlalchemy import Connection, delete, insert, select, update

from ragworks.domain import ChunkRecord, Document, DocumentStatus, FieldFilter, NewChunk
from ragworks.engines.index.base import IndexEntry
from ragworks.engines.store.filters import metadata_condition
from ragworks.engines.store.rows import chunk_from_row, document_from_row
from ragworks.engines.store.schema import chunks, documents
from ragworks.engines.store.sql import SqlDatabase, chunked

_SERVED = documents.c.status != DocumentStatus.DELETED


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
        found: dict[int, tuple[ChunkRecord, Document]] = {}
        with self.db.reader.connect() as conn:
            for part in chunked(list(keys)):
                query = (
                    select(chunks, documents)
                    .join(
                        documents,
                        (documents.c.collection == chunks.c.collection)
                        & (documents.c.id == chunks.c.document_id)
                        & (documents.c.active_version == chunks.c.version),
                    )
                    .where(chunks.c.key.in_(part), _SERVED)
                )
                for row in conn.execute(query):
                    chunk = chunk_from_row(row)
                    found[chunk.key] = (chunk, document_from_row(row))
        return found

    def served_keys(self, collection: str, filters: Sequence[FieldFilter] = ()) -> set[int]:
        """Keys of the chunks searches may see in ``collection``, optionally only of matching documents."""
        query = (
            select(chunks.c.key)
            .join(
                documents,
                (documents.c.collection == chunks.c.collection)
                & (documents.c.id == chunks.c.document_id)
                & (documents.c.active_version == chunks.c.version),
            )
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
