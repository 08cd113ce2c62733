"""SearchIndex in PostgreSQL with pgvector, for the scaled profile: every API replica reads one index.

The keyword leg is BM25 over the analyzer's tokens, scored in SQL from a postings table exactly as the
embedded tantivy index scores them (``postgres_keyword.py``, which also gives the measurements that
chose postings over a ``sparsevec`` design); the vector leg is a pgvector HNSW graph, cosine
(``postgres_vectors.py``). Tables: ``postgres_schema.py``.

Tables are created by ``start()`` (idempotent, under an advisory lock), not by the store's Alembic
migrations: the vector column's dimension is the embedder's, known only at start-up, and the index
may live in another database than the metadata store. ``CREATE EXTENSION vector`` needs a role
allowed to create it, or the extension created beforehand by an administrator.

Writes: ``add``/``remove`` stage changes in memory (from one writer thread); ``commit`` applies all
of them in one transaction, collections in name order, each under its ``search_collections`` row
lock, so commits from several worker processes to one collection take turns and never deadlock.
Searches and ``count``/``keys`` may run from any thread; connections come from a pool. Each search is
one statement for the keyword leg (one snapshot of postings and totals) and one graph or exact scan
for the vector leg. Collection names are always bound parameters.
"""

from __future__ import annotations

import importlib.util
import threading
from collections import Counter
from collections.abc import Collection as AbstractSet
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Engine, create_engine, make_url

from ragworks.engines.index import postgres_keyword, postgres_schema, postgres_vectors
from ragworks.engines.index.base import MAX_KEY, Hit, IndexEntry, Vector, check_key, check_vector
from ragworks.engines.index.postgres_keyword import doc_terms, posting_rows
from ragworks.engines.index.postgres_vectors import vector_text

if TYPE_CHECKING:
    import psycopg


@dataclass(frozen=True, slots=True)
class _Chunk:
    """A staged chunk, already reduced to what the tables hold."""

    tfs: Counter[str]
    length: int
    vector: str  # pgvector text form


class PostgresSearchIndex:
    """SearchIndex in the PostgreSQL database at ``url`` (``postgresql+psycopg://...``) for
    ``dimension``-d vectors."""

    def __init__(self, url: str, dimension: int, pool_size: int = 5) -> None:
        parsed = make_url(url)
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        if parsed.drivername != "postgresql+psycopg":
            raise ValueError(f"PostgresSearchIndex needs a postgresql+psycopg URL, not {parsed.drivername}")
        self._url = parsed
        self._dim = dimension
        self._pool_size = pool_size
        self._engine: Engine | None = None
        self._staged: dict[str, dict[int, _Chunk | None]] = {}
        self._lock = threading.Lock()  # guards _staged against a concurrent drop_collection/close

    def start(self) -> None:
        """Open the connection pool and create the tables if missing.

        Raises:
            ImportError: psycopg is not installed.
            ValueError: the tables hold vectors of another dimension.
        """
        if importlib.util.find_spec("psycopg") is None:
            raise ImportError("the PostgreSQL search index needs psycopg: install ragworks[postgres]")
        self._engine = create_engine(self._url, pool_pre_ping=True, pool_size=self._pool_size)
        try:
            with self._connect() as conn:
                postgres_schema.create(conn, self._dim)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Discard uncommitted changes and close the pool (committed data is already durable)."""
        with self._lock:
            self._staged = {}
        engine, self._engine = self._engine, None
        if engine is not None:
            engine.dispose()

    @contextmanager
    def _connect(self) -> Iterator[psycopg.Connection[Any]]:
        if self._engine is None:
            raise RuntimeError("PostgresSearchIndex is not started")
        pooled = self._engine.raw_connection()
        try:
            conn = cast("psycopg.Connection[Any]", pooled.driver_connection)
            if not conn.autocommit:  # reads need no transaction; writes open one explicitly
                conn.rollback()
                conn.autocommit = True
            yield conn
        finally:
            pooled.close()

    # -- writes (one writer thread) ---------------------------------------------------------------

    def add(self, collection: str, entries: Sequence[IndexEntry]) -> None:
        """Stage entries; raises ValueError (staging nothing) on a bad vector or key."""
        checked = [(check_key(e.key), e.tokens, check_vector(e.vector, self._dim)) for e in entries]
        chunks = {key: _Chunk(*doc_terms(tokens), vector_text(vector)) for key, tokens, vector in checked}
        if chunks:
            with self._lock:
                self._staged.setdefault(collection, {}).update(chunks)

    def remove(self, collection: str, keys: Sequence[int]) -> None:
        """Stage removal of ``keys`` from both legs; unknown keys are ignored."""
        valid = [k for k in keys if 0 <= k <= MAX_KEY]
        if valid:
            with self._lock:
                self._staged.setdefault(collection, {}).update(dict.fromkeys(valid))

    def commit(self) -> None:
        """Apply every staged change in one transaction; on failure the changes stay staged."""
        with self._lock:
            staged, self._staged = self._staged, {}
        if not staged:
            return
        try:
            with self._connect() as conn, conn.transaction():
                for name in sorted(staged):
                    self._apply(conn, name, staged[name])
        except BaseException:
            with self._lock:  # keep what was staged meanwhile on top of what failed
                for name, changes in self._staged.items():
                    staged.setdefault(name, {}).update(changes)
                self._staged = staged
            raise

    def _apply(self, conn: psycopg.Connection[Any], name: str, changes: dict[int, _Chunk | None]) -> None:
        adds = {key: chunk for key, chunk in changes.items() if chunk is not None}
        if adds:  # creates the collection; DO UPDATE takes the row lock either way
            row = conn.execute(
                "INSERT INTO search_collections (name) VALUES (%s)"
                " ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id",
                (name,),
            ).fetchone()
        else:
            row = conn.execute(
                "SELECT id FROM search_collections WHERE name = %s FOR UPDATE", (name,)
            ).fetchone()
        if row is None:
            return
        cid = int(row[0])
        gone = conn.execute(
            "DELETE FROM search_chunks WHERE collection_id = %s AND key = ANY(%s::bigint[])"
            " RETURNING key, length",
            (cid, list(changes)),
        ).fetchall()
        if gone:
            conn.execute(
                "DELETE FROM search_postings WHERE collection_id = %s AND key = ANY(%s::bigint[])",
                (cid, [key for key, _ in gone]),
            )
        with conn.cursor() as cur:
            with cur.copy("COPY search_chunks (collection_id, key, length, embedding) FROM STDIN") as copy:
                for key, chunk in adds.items():
                    copy.write_row((cid, key, chunk.length, chunk.vector))
            with cur.copy("COPY search_postings (collection_id, term, key, tf, norm) FROM STDIN") as copy:
                for key, chunk in adds.items():
                    for posting in posting_rows(cid, key, chunk.tfs, chunk.length):
                        copy.write_row(posting)
        conn.execute(
            "UPDATE search_collections SET chunks = chunks + %s, tokens = tokens + %s WHERE id = %s",
            (
                len(adds) - len(gone),
                sum(c.length for c in adds.values()) - sum(length for _, length in gone),
                cid,
            ),
        )

    def drop_collection(self, collection: str) -> None:
        """Delete everything of ``collection``, staged changes included."""
        with self._lock:
            self._staged.pop(collection, None)
        with self._connect() as conn, conn.transaction():
            row = conn.execute(
                "DELETE FROM search_collections WHERE name = %s RETURNING id", (collection,)
            ).fetchone()
            if row is not None:
                conn.execute("DELETE FROM search_postings WHERE collection_id = %s", (row[0],))
                conn.execute("DELETE FROM search_chunks WHERE collection_id = %s", (row[0],))

    # -- reads (any thread) -----------------------------------------------------------------------

    def keyword_search(
        self, collection: str, tokens: Sequence[str], limit: int, allowed: AbstractSet[int] | None = None
    ) -> list[Hit]:
        """BM25 over analyzer tokens, best first; [] for an unknown collection or no tokens."""
        if limit <= 0 or not postgres_keyword.query_terms(tokens) or (allowed is not None and not allowed):
            return []
        with self._connect() as conn:
            return postgres_keyword.search(conn, collection, tokens, limit, allowed)

    def vector_search(
        self, collection: str, vector: Vector, limit: int, allowed: AbstractSet[int] | None = None
    ) -> list[Hit]:
        """Nearest chunks by cosine similarity, best first, restricted exactly to ``allowed``."""
        query = check_vector(vector, self._dim)
        if limit <= 0 or (allowed is not None and not allowed):
            return []
        with self._connect() as conn:
            row = conn.execute(
                "SELECT id, chunks, (SELECT sum(chunks) FROM search_collections)"
                " FROM search_collections WHERE name = %s",
                (collection,),
            ).fetchone()
            if row is None:
                return []
            return postgres_vectors.search(
                conn, (int(row[0]), int(row[1]), int(row[2])), query, limit, allowed
            )

    def count(self, collection: str) -> int:
        """Number of committed chunks (0 when unknown)."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT chunks FROM search_collections WHERE name = %s", (collection,)
            ).fetchone()
        return int(row[0]) if row else 0

    def keys(self, collection: str) -> set[int]:
        """All committed keys of ``collection``."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT c.key FROM search_chunks c JOIN search_collections s ON s.id = c.collection_id"
                " WHERE s.name = %s",
                (collection,),
            )
            return {int(key) for (key,) in rows}

    def size_bytes(self) -> int:
        """Bytes of the index's tables and indexes, all collections together."""
        with self._connect() as conn:
            return postgres_schema.size_bytes(conn)
