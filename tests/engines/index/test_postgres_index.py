"""PostgresSearchIndex on a real PostgreSQL 18 with pgvector: the shared contract, BM25 scores against a
reference computation, exact filtered vector search, persistence and concurrent writers."""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from ragworks.engines.index import postgres_vectors
from ragworks.engines.index.base import IndexEntry, SearchIndex
from ragworks.engines.index.postgres import PostgresSearchIndex
from ragworks.engines.index.postgres_keyword import FIELD_NORMS, field_norm
from ragworks.testing.index_contract import DIM, Reopen, SearchIndexContract, brute_force, corpus, entry, vec


def _open(url: str, dimension: int = DIM) -> PostgresSearchIndex:
    index = PostgresSearchIndex(url, dimension)
    index.start()
    return index


@pytest.fixture
def pg_index(postgres_url: str) -> Iterator[PostgresSearchIndex]:
    index = _open(postgres_url)
    yield index
    index.close()


class TestPostgresSearchIndex(SearchIndexContract):
    @pytest.fixture
    def index(self, pg_index: PostgresSearchIndex) -> SearchIndex:
        return pg_index

    @pytest.fixture
    def reopen(self, postgres_url: str) -> Iterator[Reopen]:
        opened: list[PostgresSearchIndex] = []

        def _reopen(old: SearchIndex) -> SearchIndex:
            old.close()
            opened.append(_open(postgres_url))
            return opened[-1]

        yield _reopen
        for index in opened:  # before the database is dropped under its connections
            index.close()


def bm25(docs: dict[int, list[str]], query: list[str]) -> dict[int, float]:
    """Reference BM25 as tantivy scores it (k1 1.2, b 0.75, lengths below 41 are exact field norms)."""
    n = len(docs)
    avgdl = sum(len(tokens) for tokens in docs.values()) / n
    scores: dict[int, float] = {}
    for term in set(query):
        df = sum(term in tokens for tokens in docs.values())
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        for key, tokens in docs.items():
            tf = Counter(tokens)[term]
            if tf:
                norm = 1.2 * (1 - 0.75 + 0.75 * len(tokens) / avgdl)
                scores[key] = scores.get(key, 0.0) + idf * tf * 2.2 / (tf + norm)
    return scores


def test_bm25_scores_equal_a_reference_computation(pg_index: PostgresSearchIndex) -> None:
    docs = {
        1: ["cat", "sat", "mat"],
        2: ["cat", "cat", "cat", "dog"],
        3: ["dog", "bark", "loud", "dog", "night", "long", "long", "text"],
        4: ["지사", "은행", "지사"],
        5: [],
    }
    pg_index.add("c", [IndexEntry(k, tokens, vec(k)) for k, tokens in docs.items()])
    pg_index.commit()
    for query in (["cat"], ["dog", "cat"], ["long", "bark", "cat", "지사"], ["mat", "mat"]):
        expected = bm25(docs, query)
        hits = pg_index.keyword_search("c", query, 10)
        assert {h.key for h in hits} == set(expected)
        for hit in hits:
            assert hit.score == pytest.approx(expected[hit.key], rel=1e-9)
        assert [h.score for h in hits] == pytest.approx(sorted(expected.values(), reverse=True), rel=1e-9)


def test_bm25_follows_removals_and_replacements(pg_index: PostgresSearchIndex) -> None:
    docs = {k: ["x"] * (k % 3 + 1) + [f"t{k % 4}"] for k in range(1, 13)}
    pg_index.add("c", [IndexEntry(k, tokens, vec(k)) for k, tokens in docs.items()])
    pg_index.commit()
    pg_index.remove("c", [2, 5])
    pg_index.add("c", [IndexEntry(7, ["x", "new", "new"], vec(7))])
    pg_index.commit()
    del docs[2], docs[5]
    docs[7] = ["x", "new", "new"]
    expected = bm25(docs, ["x", "t1", "new"])
    hits = pg_index.keyword_search("c", ["x", "t1", "new"], 20)
    assert {h.key: h.score for h in hits} == pytest.approx(expected, rel=1e-9)


def test_bm25_statistics_are_per_collection(pg_index: PostgresSearchIndex) -> None:
    a = {1: ["x", "y"], 2: ["y"], 3: ["z", "z", "z"]}
    b = {k + 10: ["x"] * 5 for k in range(20)}
    pg_index.add("a", [IndexEntry(k, tokens, vec(k)) for k, tokens in a.items()])
    pg_index.add("b", [IndexEntry(k, tokens, vec(k)) for k, tokens in b.items()])
    pg_index.commit()
    hits = pg_index.keyword_search("a", ["x", "y"], 10)
    assert {h.key: h.score for h in hits} == pytest.approx(bm25(a, ["x", "y"]), rel=1e-9)


def test_field_norms_are_tantivys() -> None:
    assert FIELD_NORMS[:41] == list(range(41))
    assert FIELD_NORMS[41:50] == [42, 44, 46, 48, 50, 52, 54, 56, 60]
    assert FIELD_NORMS[-1] == 2_013_265_944
    pairs = {40: 40, 41: 40, 43: 42, 59: 56, 60: 60, 200: 200, 10**10: 2_013_265_944}
    assert {length: field_norm(length) for length in pairs} == pairs


def test_long_and_odd_terms_are_kept_out_of_the_postings(pg_index: PostgresSearchIndex) -> None:
    blob = "a" * 5_000
    pg_index.add("c", [entry(1, blob, "word", "nul\0byte"), entry(2, "word", "two words")])
    pg_index.commit()
    assert pg_index.keyword_search("c", [blob], 10) == []
    assert [h.key for h in pg_index.keyword_search("c", ["two"], 10)] == [2]  # split like tantivy
    assert {h.key for h in pg_index.keyword_search("c", ["word"], 10)} == {1, 2}


@pytest.mark.parametrize(("n_allowed", "limit"), [(3, 10), (40, 10), (250, 10), (300, 100)])
def test_allowed_vector_search_is_exact(
    pg_index: PostgresSearchIndex, n_allowed: int, limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = corpus(1_000)
    pg_index.add("c", entries)
    pg_index.commit()
    allowed = set(range(1, 1 + 3 * n_allowed, 3))
    monkeypatch.setattr(postgres_vectors, "EF_SEARCH", 1)  # a graph scan this narrow would miss
    for seed in (7, 8, 9):
        hits = pg_index.vector_search("c", vec(seed), limit, allowed=allowed)
        assert [h.key for h in hits] == brute_force(entries, vec(seed), allowed, limit)
        expected = sorted((float(e.vector @ vec(seed)) for e in entries if e.key in allowed), reverse=True)
        assert [h.score for h in hits] == pytest.approx(expected[:limit], abs=1e-5)


def test_filtered_graph_scan_falls_back_to_exact_scoring(
    pg_index: PostgresSearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = corpus(400)
    pg_index.add("c", entries)
    pg_index.commit()
    allowed = set(range(1, 401, 2))  # too many for the exact path: the graph is scanned first
    monkeypatch.setattr(postgres_vectors, "EXACT_MIN", 0)
    calls: list[str] = []
    execute = psycopg.Connection.execute

    def spy(self: psycopg.Connection[Any], query: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(str(query))
        if str(query) == postgres_vectors.GRAPH_ALLOWED:
            query = query + " OFFSET 195"  # the scan comes back short, as when max_scan_tuples is hit
        return execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Connection, "execute", spy)
    hits = pg_index.vector_search("c", vec(3), 10, allowed=allowed)
    assert postgres_vectors.EXACT_ALLOWED in calls
    assert [h.key for h in hits] == brute_force(entries, vec(3), allowed, 10)


def test_vector_search_within_one_of_many_collections(pg_index: PostgresSearchIndex) -> None:
    pg_index.add("big", [IndexEntry(k, ["t"], vec(k)) for k in range(1, 2_001)])
    pg_index.add("small", [IndexEntry(k, ["t"], vec(k)) for k in range(5_001, 5_021)])
    pg_index.commit()
    hits = pg_index.vector_search("small", vec(1), 20)
    assert {h.key for h in hits} == set(range(5_001, 5_021))
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_graph_queries_take_the_hnsw_index_despite_stale_statistics(
    pg_index: PostgresSearchIndex, postgres_url: str
) -> None:
    pg_index.add("old", [entry(k, "t") for k in range(1, 2_001)])
    pg_index.commit()
    conninfo = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as admin:
        admin.execute("ANALYZE search_chunks")  # statistics know only "old"
    pg_index.add("fresh", [entry(k, "t") for k in range(10_001, 12_001)])
    pg_index.commit()
    with psycopg.connect(conninfo) as conn:  # one transaction, as in the adapter
        row = conn.execute("SELECT id FROM search_collections WHERE name = 'fresh'").fetchone()
        assert row is not None
        conn.execute(postgres_vectors.GRAPH_SETTINGS, ("64",))
        params = {"cid": row[0], "q": postgres_vectors.vector_text(vec(1)), "limit": 10}
        plan = "\n".join(str(r[0]) for r in conn.execute("EXPLAIN " + postgres_vectors.GRAPH_ALL, params))
    assert "search_chunks_embedding" in plan and "Sort" not in plan
    hits = pg_index.vector_search("fresh", vec(10_500), 10)
    assert hits[0].key == 10_500 and all(h.key > 10_000 for h in hits)


def test_reopen_after_close_keeps_data(postgres_url: str) -> None:
    index = _open(postgres_url)
    index.add("c", corpus(50))
    index.commit()
    index.remove("c", [7])
    index.add("c", [entry(8, "replaced")])
    index.commit()
    index.add("c", [entry(1000, "staged")])
    index.close()
    again = _open(postgres_url)
    assert again.keys("c") == set(range(1, 51)) - {7}
    assert again.count("c") == 49
    assert [h.key for h in again.keyword_search("c", ["replaced"], 5)] == [8]
    assert again.keyword_search("c", ["staged"], 5) == []
    assert again.vector_search("c", vec(20), 1)[0].key == 20
    again.close()


def test_start_is_idempotent_and_checks_the_dimension(postgres_url: str) -> None:
    first, second = _open(postgres_url), _open(postgres_url)
    first.add("c", corpus(3))
    first.commit()
    assert second.count("c") == 3
    first.close()
    second.close()
    with pytest.raises(ValueError, match="vector"):
        _open(postgres_url, DIM * 2)


def test_failed_commit_keeps_changes_staged(pg_index: PostgresSearchIndex, postgres_url: str) -> None:
    pg_index.add("c", corpus(5))
    conninfo = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as admin:
        admin.execute("ALTER TABLE search_postings ADD CONSTRAINT no_all CHECK (term <> 'all')")
        with pytest.raises(psycopg.errors.CheckViolation):
            pg_index.commit()
        assert pg_index.count("c") == 0
        admin.execute("ALTER TABLE search_postings DROP CONSTRAINT no_all")
    pg_index.commit()
    assert pg_index.keys("c") == {1, 2, 3, 4, 5}


def test_collection_names_are_bound_not_formatted(pg_index: PostgresSearchIndex) -> None:
    name = "x'); DROP TABLE search_chunks; --"
    pg_index.add(name, [entry(1, "t")])
    pg_index.commit()
    assert pg_index.keys(name) == {1}
    assert [h.key for h in pg_index.keyword_search(name, ["t"], 5)] == [1]
    pg_index.drop_collection(name)
    assert pg_index.count(name) == 0


def test_concurrent_writers_keep_collection_totals(postgres_url: str) -> None:
    writers = [_open(postgres_url) for _ in range(3)]
    errors: list[BaseException] = []

    def write(index: PostgresSearchIndex, offset: int) -> None:
        try:
            for round_ in range(10):
                base = offset + round_ * 10
                index.add("c", [entry(base + i, "all", f"w{offset}") for i in range(10)])
                index.remove("c", [base - 5])  # some of its own earlier keys
                index.commit()
        except BaseException as exc:  # surfaced in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w, 10_000 * (i + 1))) for i, w in enumerate(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    reader = writers[0]
    keys = reader.keys("c")
    assert reader.count("c") == len(keys) == 3 * (100 - 9)
    # the totals BM25 uses match the rows: every chunk has 2 terms, so one term's idf is exact
    hits = reader.keyword_search("c", ["w10000"], 200)
    assert len(hits) == 91
    df, n = 91, len(keys)
    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
    assert hits[0].score == pytest.approx(idf * 2.2 / (1 + 1.2), rel=1e-9)
    for writer in writers:
        writer.close()


def test_size_bytes_counts_the_tables(pg_index: PostgresSearchIndex) -> None:
    empty = pg_index.size_bytes()
    pg_index.add("c", corpus(300))
    pg_index.commit()
    assert pg_index.size_bytes() > empty
