"""Vector leg in PostgreSQL: pgvector HNSW (cosine) over ``search_chunks.embedding``.

One HNSW graph serves every collection; a search filters on the collection with pgvector's iterative
index scan (``hnsw.iterative_scan = strict_order``), which keeps walking the graph until enough rows of
the collection (and of ``allowed``) are found, in distance order. The graph is built as the local index
builds its own (16 links per node, 128 candidates while inserting) and searched with
``hnsw.ef_search = max(64, limit)``, the local index's expansion. On the same 10k 384-d vectors
(``bench/pg_keyword.py``) recall@10 at 64 is 1.000 for both on clustered, embedding-like vectors, and
0.479 against usearch's 0.417 on random ones (HNSW's worst case; 0.363 at pgvector's default of 40).
Rows deleted or replaced stay in the graph until VACUUM and lower recall meanwhile (0.229 on random
vectors with as many dead rows as live ones), so ``search_chunks`` depends on autovacuum.

Graph or exact scoring is chosen here, not left to the planner, whose row estimates are stale for a
collection filled since the last ANALYZE (it then sorted a 10k-vector collection read through the
primary key: exact, but 30 ms). The candidates (the collection, or the allowed keys in it) make up a
share of the whole graph; a filtered graph scan visits about ``limit / share`` rows and exact scoring
visits every candidate, so as in the local index candidates are scored exactly when there are at most
``EXACT_MIN`` of them or ``candidates**2 <= limit * rows in the graph``. Exact scoring goes through
the primary key and never returns a key outside ``allowed``. Graph queries run with sorting disabled,
so the planner takes the HNSW index (the only plan without a sort), and fall back to exact scoring
when the scan stops (``hnsw.max_scan_tuples``) before finding ``limit`` rows.
"""

from __future__ import annotations

from collections.abc import Collection as AbstractSet
from typing import TYPE_CHECKING, Any

from ragworks.engines.index.base import Hit, Vector

if TYPE_CHECKING:
    import psycopg

EF_SEARCH = 64  # the local index's expansion_search
EF_SEARCH_MAX = 1_000  # pgvector's upper bound; iterative scans go past it when limit is larger
EXACT_MIN = 256
HNSW_M, HNSW_EF_CONSTRUCTION = 16, 128


def vector_text(vector: Vector) -> str:
    """pgvector's text form, ``[x,y,...]`` (float32 values round-trip exactly)."""
    return "[" + ",".join(map(repr, vector.tolist())) + "]"


_GRAPH = """
SELECT key, 1 - (embedding <=> %(q)s::vector) AS score
FROM search_chunks
WHERE collection_id = %(cid)s {allowed}
ORDER BY embedding <=> %(q)s::vector
LIMIT %(limit)s
"""
GRAPH_ALL = _GRAPH.format(allowed="")
GRAPH_ALLOWED = _GRAPH.format(allowed="AND key = ANY(%(allowed)s::bigint[])")
# Ordering by the score expression (not by the distance operator) keeps the planner off the graph.
_EXACT = """
SELECT key, 1 - (embedding <=> %(q)s::vector) AS score
FROM search_chunks
WHERE collection_id = %(cid)s {allowed}
ORDER BY score DESC, key
LIMIT %(limit)s
"""
EXACT_ALL = _EXACT.format(allowed="")
EXACT_ALLOWED = _EXACT.format(allowed="AND key = ANY(%(allowed)s::bigint[])")


# SET LOCAL: the settings end with the query's transaction, so pooled connections keep the defaults.
GRAPH_SETTINGS = """
SELECT set_config('hnsw.ef_search', %s, true),
       set_config('hnsw.iterative_scan', 'strict_order', true),
       set_config('enable_sort', 'off', true)
"""


def search(
    conn: psycopg.Connection[Any],
    collection: tuple[int, int, int],
    vector: Vector,
    limit: int,
    allowed: AbstractSet[int] | None,
) -> list[Hit]:
    """Nearest ``limit`` chunks of ``collection`` (id, its rows, rows of all collections) by cosine
    similarity, best first, restricted exactly to ``allowed``."""
    collection_id, size, total = collection
    if limit <= 0 or size == 0 or (allowed is not None and not allowed):
        return []
    params: dict[str, Any] = {"cid": collection_id, "q": vector_text(vector), "limit": limit}
    exact, graph = EXACT_ALL, GRAPH_ALL
    candidates = size
    if allowed is not None:
        params["allowed"] = [k for k in allowed if 0 <= k < 2**63]
        exact, graph = EXACT_ALLOWED, GRAPH_ALLOWED
        candidates = min(size, len(params["allowed"]))
    if candidates <= EXACT_MIN or candidates**2 <= limit * total:
        return _rows(conn.execute(exact, params).fetchall())
    with conn.transaction():
        conn.execute(GRAPH_SETTINGS, (str(_ef(limit)),))
        hits = _rows(conn.execute(graph, params).fetchall())
    if len(hits) >= min(limit, candidates):
        return hits
    # The scan stopped early (among other collections' or disallowed rows): score exactly instead.
    return _rows(conn.execute(exact, params).fetchall())


def _ef(limit: int) -> int:
    return min(max(EF_SEARCH, limit), EF_SEARCH_MAX)


def _rows(rows: list[tuple[Any, ...]]) -> list[Hit]:
    return [Hit(int(key), float(score)) for key, score in rows]
