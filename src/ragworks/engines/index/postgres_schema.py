"""Tables of the PostgreSQL search index, created by ``PostgresSearchIndex.start`` (idempotent).

``search_collections``: one row per collection with its totals (chunks, terms) that BM25 needs for N and
the average length; its row lock serialises commits to one collection across processes.
``search_chunks``: one row per chunk: key, length in terms, embedding (HNSW index, cosine).
``search_postings``: one row per (collection, term, chunk) with the term frequency and the chunk's
field norm; the primary key is the inverted index (the keyword leg reads only its entries), and a
second index on (collection, key) finds a chunk's postings when it is replaced or removed.
Terms use the "C" collation: byte-wise, which is the equality BM25 needs and the cheapest to compare.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ragworks.engines.index.postgres_vectors import HNSW_EF_CONSTRUCTION, HNSW_M

if TYPE_CHECKING:
    import psycopg

TABLES = ("search_collections", "search_chunks", "search_postings")
_LOCK_ID = 0x52_57_53_49  # advisory lock taken while creating the tables: concurrent starts wait


def _ddl(dimension: int) -> list[str]:
    # The dimension and graph settings are integers of ours; DDL takes no bound parameters.
    return [
        "CREATE EXTENSION IF NOT EXISTS vector",
        """CREATE TABLE IF NOT EXISTS search_collections (
            id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            name text NOT NULL UNIQUE,
            chunks bigint NOT NULL DEFAULT 0,
            tokens bigint NOT NULL DEFAULT 0
        )""",
        f"""CREATE TABLE IF NOT EXISTS search_chunks (
            collection_id integer NOT NULL,
            key bigint NOT NULL,
            length integer NOT NULL,
            embedding vector({int(dimension)}) NOT NULL,
            PRIMARY KEY (collection_id, key)
        )""",
        f"""CREATE INDEX IF NOT EXISTS search_chunks_embedding ON search_chunks
            USING hnsw (embedding vector_cosine_ops)
            WITH (m = {int(HNSW_M)}, ef_construction = {int(HNSW_EF_CONSTRUCTION)})""",
        """CREATE TABLE IF NOT EXISTS search_postings (
            collection_id integer NOT NULL,
            term text COLLATE "C" NOT NULL,
            key bigint NOT NULL,
            tf integer NOT NULL,
            norm integer NOT NULL,
            PRIMARY KEY (collection_id, term, key) INCLUDE (tf, norm)
        )""",
        "CREATE INDEX IF NOT EXISTS search_postings_key ON search_postings (collection_id, key)",
    ]


def create(conn: psycopg.Connection[Any], dimension: int) -> None:
    """Create the extension, tables and indexes if missing; raise ValueError if the stored vectors have
    another dimension."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
        for statement in _ddl(dimension):
            conn.execute(statement)
        row = conn.execute(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute"
            " WHERE attrelid = 'search_chunks'::regclass AND attname = 'embedding'"
        ).fetchone()
    if row is None or row[0] != f"vector({dimension})":
        raise ValueError(
            f"search_chunks holds {row[0] if row else 'no'} embeddings, expected vector({dimension})"
        )


def size_bytes(conn: psycopg.Connection[Any]) -> int:
    """Bytes of the index's tables with their indexes and TOAST."""
    row = conn.execute(
        "SELECT coalesce(sum(pg_total_relation_size(to_regclass(t))), 0) FROM unnest(%s::text[]) AS t",
        (list(TABLES),),
    ).fetchone()
    return int(row[0]) if row else 0
