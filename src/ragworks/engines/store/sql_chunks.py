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
from ragworks.engines.store.base import ChunkSpan, VersionChunks, VersionCount
from ragworks.engines.store.filters import metadata_condition
from ragworks.engines.store.schema import chunks, collections, documents
from ragworks.engines.store.sql import SqlDatabase, chunked, documents_by_key

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
        return self.replace_chunks_many([(collection, document_id, version, rows)])[0]

    def replace_chunks_many(self, batch: Sequence[VersionChunks]) -> list[tuple[list[int], list[int]]]:
        """``replace_chunks`` for each (collection, document id, version, rows), in one transaction.

        All rows go in with one multi-row INSERT. Returns (keys removed, keys added) per item; an item
        that repeats an earlier one's version replaces what that one added.
        """
        versions = [(c, d, v) for c, d, v, _ in batch]
        with self.db.writer.begin() as conn:
            self.db.lock_documents(conn, [(c, d) for c, d, _ in versions])
            stored = self._keys_by_version(conn, versions)
            self._delete_keys(conn, [k for keys in stored.values() for k in keys])
            outcome: list[tuple[list[int], list[int]]] = []
            seen: set[tuple[str, str, int]] = set()
            repeated: list[int] = []  # added by an earlier item of this batch, then replaced
            for version, added in zip(versions, self._insert_chunks(conn, batch), strict=True):
                removed = stored.get(version, [])
                if version in seen:
                    repeated += removed
                seen.add(version)
                stored[version] = added
                outcome.append((removed, added))
            self._delete_keys(conn, repeated)
        return outcome

    def activate_version(
        self, collection: str, document_id: str, version: int, chunk_count: int
    ) -> list[int] | None:
        """Atomically make ``version`` the one searches see and drop older versions' chunk rows.

        Returns the removed keys, or None when the document was deleted or a newer version is
        already active (the caller then drops the chunks it just wrote).
        """
        return self.activate_versions([(collection, document_id, version, chunk_count)])[0]

    def activate_versions(self, batch: Sequence[VersionCount]) -> list[list[int] | None]:
        """``activate_version`` for each (collection, document id, version, chunk count), in order,
        in one transaction; returns its result per item."""
        documents_of = [(c, d) for c, d, _, _ in batch]
        now = time.time()
        with self.db.writer.begin() as conn:
            self.db.lock_documents(conn, documents_of)
            current = documents_by_key(conn, documents_of)
            kept = self._chunk_keys(conn, documents_of)
            activated: dict[tuple[str, str], Document] = {}
            outcome: list[list[int] | None] = []
            for key, (_, _, version, chunk_count) in zip(documents_of, batch, strict=True):
                document = current.get(key)
                if document is None or not _may_activate(document, version):
                    outcome.append(None)
                else:
                    current[key] = activated[key] = _activated(document, version, chunk_count, now)
                    outcome.append([k for v, k in kept.get(key, []) if v < version])
                    kept[key] = [(v, k) for v, k in kept.get(key, []) if v >= version]
            if activated:
                conn.execute(_ACTIVATE, [_activation_row(d) for d in activated.values()])
            self._delete_keys(conn, [k for keys in outcome if keys for k in keys])
        return outcome

    def purge_document(
        self, collection: str, document_id: str, through_version: int | None = None
    ) -> list[int]:
        """Delete a document and its chunk rows; returns the chunk keys to remove from the index.

        ``through_version`` is the latest version when the delete was requested. When it is given and
        the document was accepted again since (it is no longer deleted), only the chunks of versions up
        to that one go and the document, with its newer version, stays.
        """
        key = (collection, document_id)
        with self.db.writer.begin() as conn:
            self.db.lock_documents(conn, [key])
            document = documents_by_key(conn, [key]).get(key)
            found = self._chunk_keys(conn, [key]).get(key, [])
            if (
                through_version is not None
                and document is not None
                and document.status != DocumentStatus.DELETED
            ):
                keys = [k for version, k in found if version <= through_version]
                self._delete_keys(conn, keys)
                return keys
            conn.execute(
                delete(chunks).where(chunks.c.collection == collection, chunks.c.document_id == document_id)
            )
            conn.execute(
                delete(documents).where(documents.c.collection == collection, documents.c.id == document_id)
            )
        return [k for _, k in found]

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

    def version_spans(self, collection: str, document_id: str, version: int) -> list[ChunkSpan]:
        """Text and offsets of every chunk of one version, in order."""
        query = (
            select(chunks.c.text, chunks.c.start, chunks.c.end)
            .where(
                chunks.c.collection == collection,
                chunks.c.document_id == document_id,
                chunks.c.version == version,
            )
            .order_by(chunks.c.ordinal)
        )
        with self.db.reader.connect() as conn:
            return [(r.text, r.start, r.end) for r in conn.execute(query)]

    @staticmethod
    def _chunk_keys(
        conn: Connection, of: Sequence[tuple[str, str]] | Sequence[tuple[str, str, int]]
    ) -> dict[tuple[str, str], list[tuple[int, int]]]:
        """(version, key) of every chunk row of the documents named by the (collection, id) prefixes."""
        ids: dict[str, list[str]] = {}
        for collection, document_id in dict.fromkeys((k[0], k[1]) for k in of):
            ids.setdefault(collection, []).append(document_id)
        found: dict[tuple[str, str], list[tuple[int, int]]] = {}
        for collection, names in ids.items():
            for part in chunked(names):
                query = select(chunks.c.document_id, chunks.c.version, chunks.c.key).where(
                    chunks.c.collection == collection, chunks.c.document_id.in_(part)
                )
                for document_id, version, key in conn.execute(query):
                    found.setdefault((collection, document_id), []).append((int(version), int(key)))
        return found

    def _keys_by_version(
        self, conn: Connection, versions: Sequence[tuple[str, str, int]]
    ) -> dict[tuple[str, str, int], list[int]]:
        """Keys of the chunk rows stored for each of ``versions``."""
        wanted = set(versions)
        stored: dict[tuple[str, str, int], list[int]] = {}
        for (collection, document_id), found in self._chunk_keys(conn, versions).items():
            for version, key in found:
                if (collection, document_id, version) in wanted:
                    stored.setdefault((collection, document_id, version), []).append(key)
        return stored

    @staticmethod
    def _insert_chunks(conn: Connection, batch: Sequence[VersionChunks]) -> list[list[int]]:
        """Insert every item's rows with one statement; returns the new keys per item, in order."""
        rows = [
            {
                "collection": collection,
                "document_id": document_id,
                "version": version,
                "ordinal": row.ordinal,
                "text": row.text,
                "start": row.start,
                "end": row.end,
                "page": row.page,
                "heading": row.heading,
                "language": row.language,
                "tokens": " ".join(row.tokens),
                "vector": row.vector,
            }
            for collection, document_id, version, new in batch
            for row in new
        ]
        keys: list[int] = []
        if rows:
            statement = insert(chunks).returning(chunks.c.key, sort_by_parameter_order=True)
            keys = [int(k) for k in conn.execute(statement, rows).scalars()]
        added: list[list[int]] = []
        for _, _, _, new in batch:
            added.append(keys[: len(new)])
            del keys[: len(new)]
        return added

    @staticmethod
    def _delete_keys(conn: Connection, keys: Sequence[int]) -> None:
        for part in chunked(keys):
            conn.execute(delete(chunks).where(chunks.c.key.in_(part)))


_ACTIVATE = (
    update(documents)
    .where(documents.c.collection == bindparam("b_collection"), documents.c.id == bindparam("b_id"))
    .values(
        active_version=bindparam("b_active_version"),
        status=bindparam("b_status"),
        chunk_count=bindparam("b_chunk_count"),
        error_code=bindparam("b_error_code"),
        error_message=bindparam("b_error_message"),
        updated_at=bindparam("b_updated_at"),
    )
)


def _may_activate(document: Document, version: int) -> bool:
    """Whether ``version`` may be served: the document is not deleted and no newer version is."""
    return document.status != DocumentStatus.DELETED and (document.active_version or 0) <= version


def _activated(document: Document, version: int, chunk_count: int, now: float) -> Document:
    """``document`` once ``version`` is served: ready when it is the latest, errors then cleared."""
    status = DocumentStatus.READY if document.version == version else document.status
    ready = status == DocumentStatus.READY
    return dataclasses.replace(
        document,
        active_version=version,
        status=status,
        chunk_count=chunk_count,
        error_code=None if ready else document.error_code,
        error_message=None if ready else document.error_message,
        updated_at=now,
    )


def _activation_row(document: Document) -> dict[str, Any]:
    return {
        "b_collection": document.collection,
        "b_id": document.id,
        "b_active_version": document.active_version,
        "b_status": document.status,
        "b_chunk_count": document.chunk_count,
        "b_error_code": document.error_code,
        "b_error_message": document.error_message,
        "b_updated_at": document.updated_at,
    }
