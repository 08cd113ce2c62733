"""BM25 keyword leg in PostgreSQL: a postings table scored in SQL, as tantivy scores.

Design kept: one row per (collection, term, chunk) with the term frequency and the chunk's length norm,
plus per-chunk lengths and per-collection totals (``postgres_schema.py``). A query reads the postings of
its terms through the primary key (``collection_id, term, key``), takes document frequencies from the
same rows (a window count per term) and sums BM25 per chunk, all in one statement, so N, the average
length and every posting come from one snapshot.

The alternative measured was a ``sparsevec`` of term frequencies per chunk with IDF applied at query
time (``bench/pg_keyword.py``). pgvector has no inverted index for sparse vectors, so every query scans
every chunk of the collection, and getting exact BM25 (whose term-frequency saturation depends on the
chunk length and the average length at query time) needs one inner product per query term and chunk.
Measured by ``.venv/bin/python bench/pg_keyword.py --sets scifact autorag-ko msmarco-subset`` (2 cores,
load average 1.1 at the start; one entry per document; p50 / p99 ms per query)::

    set             postings (kept)   sparsevec exact BM25   sparsevec 1 product   tantivy
    SciFact (5.2k)  2.6 / 6.9         8.9 / 22.6             4.7 / 8.0             0.3 / 0.5
    autorag-ko      1.1 / 2.2         2.9 / 6.5              0.7 / 2.8             0.2 / 0.3
    MS MARCO (5k)   1.0 / 2.3         2.7 / 5.3              3.0 / 4.2             0.2 / 0.3

Both exact designs return tantivy's top 10 (100 % overlap) and the same nDCG@10 (0.6912, 0.9352,
0.7332); the one-product scan, a floor for any sparse scan, is TF-IDF and keeps 44-60 % of it. The
postings design reads only the postings of the query's terms, so it grows with their document
frequencies, not with the collection as every sparse scan does.

Scores match tantivy's BM25 (k1 = 1.2, b = 0.75, idf = ln(1 + (N - n + 0.5) / (n + 0.5)), average length
per collection): chunk lengths are stored as tantivy's one-byte field norms (exact up to 40 terms,
coarser above), the average length is the true one, and chunks without terms count in N as they do in
tantivy. tantivy keeps deleted documents in N and n until segments merge; this leg does not, so after
deletes the two can differ slightly. Ties are broken by key.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Collection as AbstractSet
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ragworks.engines.index.base import Hit

if TYPE_CHECKING:
    import psycopg

K1, B = 1.2, 0.75
# A btree entry must fit in a third of a page; longer terms (base64 blobs and the like) are not indexed,
# as tantivy skips terms over 65,530 bytes. They still count in the chunk's length.
MAX_TERM_BYTES = 2_000
_ASCII_SPACE = re.compile("[ \t\n\r\x0c]+")  # what tantivy's whitespace tokenizer splits on


def _field_norms() -> list[int]:
    """tantivy's FIELD_NORMS_TABLE: lengths 0-23 exactly, then 3 mantissa bits (exact up to 40)."""
    table = []
    for code in range(256):
        if code < 24:
            table.append(code)
            continue
        bits, shift = (code - 24) & 0b111, (code - 24) >> 3
        table.append(24 + (bits if shift == 0 else (bits | 8) << (shift - 1)))
    return table


FIELD_NORMS = _field_norms()


def field_norm(length: int) -> int:
    """The length tantivy scores a chunk of ``length`` terms with (its one-byte field norm, decoded)."""
    return FIELD_NORMS[bisect.bisect_right(FIELD_NORMS, length) - 1]


def _indexable(term: str) -> bool:
    return bool(term) and "\0" not in term and len(term.encode()) <= MAX_TERM_BYTES


def doc_terms(tokens: Sequence[str]) -> tuple[Counter[str], int]:
    """(term frequencies, length) of a chunk: tokens split on ASCII whitespace, as tantivy indexes them."""
    terms = [t for token in tokens if token for t in _ASCII_SPACE.split(token) if t]
    return Counter(t for t in terms if _indexable(t)), len(terms)


def query_terms(tokens: Sequence[str]) -> list[str]:
    """The query's distinct terms: a term repeated in the query is scored once, as in the local index."""
    return [t for t in dict.fromkeys(tokens) if _indexable(t) and not any(c.isspace() for c in t)]


def posting_rows(collection_id: int, key: int, tfs: Counter[str], length: int) -> Iterable[tuple[Any, ...]]:
    """Rows of ``search_postings`` for one chunk."""
    norm = field_norm(length)
    return ((collection_id, term, key, tf, norm) for term, tf in tfs.items())


# float8 throughout (a bigint plus 0.5 would be numeric, several times slower to sum); the length part
# of the denominator, k1 * (1 - b + b * norm / avgdl), is c1 + c2 * norm with c1 and c2 computed once.
_SEARCH = """
WITH s AS (
    SELECT id, chunks::float8 AS n, %(k1)s * (1 - %(b)s) AS c1,
           %(k1)s * %(b)s * greatest(chunks, 1) / greatest(tokens, 1)::float8 AS c2
    FROM search_collections WHERE name = %(name)s
), p AS (
    SELECT p.key, p.tf::float8 AS tf, p.norm, count(*) OVER (PARTITION BY p.term)::float8 AS df
    FROM search_postings p
    WHERE p.collection_id = (SELECT id FROM s) AND p.term = ANY(%(terms)s::text[])
)
SELECT p.key,
       (1 + %(k1)s) * sum(ln(1 + (s.n - p.df + 0.5) / (p.df + 0.5)) * p.tf / (p.tf + s.c1 + s.c2 * p.norm))
           AS score
FROM p CROSS JOIN s
{where}
GROUP BY p.key
ORDER BY score DESC, p.key
LIMIT %(limit)s
"""
SEARCH_ALL = _SEARCH.format(where="")
# The key restriction applies after the window: document frequencies count every chunk, allowed or not.
SEARCH_ALLOWED = _SEARCH.format(where="WHERE p.key = ANY(%(allowed)s::bigint[])")


def search(
    conn: psycopg.Connection[Any],
    collection: str,
    tokens: Sequence[str],
    limit: int,
    allowed: AbstractSet[int] | None,
) -> list[Hit]:
    """BM25 top ``limit`` chunks of ``collection`` for the OR of ``tokens``, restricted to ``allowed``."""
    terms = query_terms(tokens)
    if not terms or limit <= 0 or (allowed is not None and not allowed):
        return []
    params: dict[str, Any] = {"name": collection, "terms": terms, "k1": K1, "b": B, "limit": limit}
    if allowed is None:
        rows = conn.execute(SEARCH_ALL, params).fetchall()
    else:
        params["allowed"] = [k for k in allowed if 0 <= k < 2**63]
        rows = conn.execute(SEARCH_ALLOWED, params).fetchall()
    return [Hit(int(key), float(score)) for key, score in rows]
