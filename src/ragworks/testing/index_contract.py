"""Contract tests every SearchIndex adapter must pass.

Subclass ``SearchIndexContract`` in a test module and provide an ``index`` fixture that yields a
started adapter for ``DIM``-d vectors (and ``reopen`` if the adapter persists: a callable that
closes the given index and returns a fresh started one over the same storage).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from ragworks.engines.index.base import IndexEntry, SearchIndex, Vector

DIM = 16
Reopen = Callable[[SearchIndex], SearchIndex]


def vec(seed: int) -> Vector:
    """A deterministic L2-normalised float32 vector."""
    v = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return (v / np.linalg.norm(v)).astype(np.float32)


def entry(key: int, *tokens: str) -> IndexEntry:
    """An entry whose vector is ``vec(key)``."""
    return IndexEntry(key=key, tokens=list(tokens), vector=vec(key))


def corpus(n: int) -> list[IndexEntry]:
    """``n`` entries: every key has token "all", even keys "even", and its own "k<key>"."""
    return [entry(k, "all", "even" if k % 2 == 0 else "odd", f"k{k}") for k in range(1, n + 1)]


def brute_force(entries: list[IndexEntry], query: Vector, allowed: set[int], limit: int) -> list[int]:
    """Exact cosine ranking over ``allowed``."""
    scored = sorted(((float(e.vector @ query), e.key) for e in entries if e.key in allowed), reverse=True)
    return [k for _, k in scored[:limit]]


class SearchIndexContract:
    """Behaviour shared by all SearchIndex adapters."""

    @pytest.fixture
    def index(self) -> Iterator[SearchIndex]:
        """A started, empty index; subclasses override this fixture."""
        raise NotImplementedError("subclasses provide a started index")

    @pytest.fixture
    def reopen(self) -> Reopen:
        """Close an index and return a started one over the same storage; subclasses override."""
        raise NotImplementedError("subclasses provide a reopen callable")

    def test_add_commit_search_both_legs(self, index: SearchIndex) -> None:
        index.add("c", [entry(1, "covid-19", "지사"), entry(2, "bank", "지사", "지사"), entry(3, "C++")])
        assert index.keyword_search("c", ["covid-19"], 10) == []  # invisible before commit
        index.commit()
        assert [h.key for h in index.keyword_search("c", ["covid-19"], 10)] == [1]
        assert [h.key for h in index.keyword_search("c", ["지사"], 10)] == [2, 1]
        assert [h.key for h in index.keyword_search("c", ["C++"], 10)] == [3]
        assert index.keyword_search("c", ["covid"], 10) == []  # tokens are not re-tokenised
        hits = index.vector_search("c", vec(2), 3)
        assert hits[0].key == 2 and hits[0].score == pytest.approx(1.0, abs=1e-2)
        assert sorted(h.key for h in hits) == [1, 2, 3]
        assert all(-1.0 <= h.score <= 1.0 + 1e-3 for h in hits)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)

    def test_keyword_is_or_of_tokens_and_ignores_syntax(self, index: SearchIndex) -> None:
        index.add("c", [entry(1, "alpha"), entry(2, "beta"), entry(3, "gamma")])
        index.commit()
        assert {h.key for h in index.keyword_search("c", ["alpha", "beta", "nothing"], 10)} == {1, 2}
        assert index.keyword_search("c", ["alpha OR beta", "*", 'body:"x"', "(", "-alpha"], 10) == []

    def test_limit_is_respected(self, index: SearchIndex) -> None:
        index.add("c", corpus(30))
        index.commit()
        assert len(index.keyword_search("c", ["all"], 5)) == 5
        assert len(index.vector_search("c", vec(3), 5)) == 5

    def test_remove_removes_from_both_legs(self, index: SearchIndex) -> None:
        index.add("c", corpus(10))
        index.commit()
        index.remove("c", [4, 999])
        index.commit()
        assert 4 not in {h.key for h in index.keyword_search("c", ["all"], 100)}
        assert index.keyword_search("c", ["k4"], 10) == []
        assert 4 not in {h.key for h in index.vector_search("c", vec(4), 100)}
        assert index.keys("c") == set(range(1, 11)) - {4}

    def test_replace_existing_key(self, index: SearchIndex) -> None:
        index.add("c", [entry(1, "old"), entry(2, "other")])
        index.commit()
        index.add("c", [IndexEntry(1, ["new"], vec(50))])
        index.commit()
        assert index.keyword_search("c", ["old"], 10) == []
        assert [h.key for h in index.keyword_search("c", ["new"], 10)] == [1]
        assert index.vector_search("c", vec(50), 1)[0].key == 1
        assert index.count("c") == 2

    def test_add_then_remove_in_one_commit(self, index: SearchIndex) -> None:
        index.add("c", [entry(1, "x"), entry(2, "x")])
        index.remove("c", [1])
        index.commit()
        assert index.keys("c") == {2}
        assert [h.key for h in index.keyword_search("c", ["x"], 10)] == [2]

    @pytest.mark.parametrize("n_allowed", [0, 1, 7, 60])
    def test_allowed_restricts_exactly(self, index: SearchIndex, n_allowed: int) -> None:
        entries = corpus(120)
        index.add("c", entries)
        index.commit()
        allowed = set(range(3, 3 + 2 * n_allowed, 2)) | {10_000}  # plus a key that is not indexed
        query = vec(7)
        hits = index.vector_search("c", query, 5, allowed=allowed)
        assert [h.key for h in hits] == brute_force(entries, query, allowed, 5)
        kw = index.keyword_search("c", ["all"], 200, allowed=allowed)
        assert {h.key for h in kw} == {e.key for e in entries} & allowed
        assert index.keyword_search("c", ["k3"], 10, allowed={5}) == []

    @pytest.mark.parametrize("kind", ["sparse", "dense"])
    def test_allowed_large_set(self, index: SearchIndex, kind: str) -> None:
        entries = corpus(600)
        index.add("c", entries)
        index.commit()
        if kind == "sparse":  # few of the allowed keys are indexed
            allowed = {k for k in range(1, 601) if k % 3 == 0} | set(range(100_000, 130_000))
        else:  # most indexed keys are allowed
            allowed = set(range(1, 451))
        query = vec(11)
        hits = [h.key for h in index.vector_search("c", query, 10, allowed=allowed)]
        # the restriction is exact; the ranking of a large allowed set may come from the approximate
        # graph, which on random vectors can miss a neighbour
        assert len(hits) == 10 and set(hits) <= allowed
        assert len(set(hits) & set(brute_force(entries, query, allowed, 10))) >= 8
        kw = index.keyword_search("c", ["even"], 1000, allowed=allowed)
        assert {h.key for h in kw} == {k for k in allowed if k <= 600 and k % 2 == 0}
        assert len(index.keyword_search("c", ["all"], 10, allowed=allowed)) == 10

    def test_collections_are_isolated(self, index: SearchIndex) -> None:
        index.add("a", [entry(1, "shared")])
        index.add("b", [entry(2, "shared")])
        index.commit()
        assert [h.key for h in index.keyword_search("a", ["shared"], 10)] == [1]
        assert [h.key for h in index.vector_search("b", vec(1), 10)] == [2]
        assert index.keys("a") == {1} and index.keys("b") == {2}

    def test_drop_collection(self, index: SearchIndex) -> None:
        index.add("a", [entry(1, "t")])
        index.add("b", [entry(2, "t")])
        index.commit()
        index.drop_collection("a")
        assert index.count("a") == 0 and index.keys("a") == set()
        assert index.keyword_search("a", ["t"], 10) == [] and index.vector_search("a", vec(1), 10) == []
        assert index.count("b") == 1
        index.add("a", [entry(3, "t")])  # a dropped collection can be recreated
        index.commit()
        assert index.keys("a") == {3}

    def test_count_keys_and_unknown_collection(self, index: SearchIndex) -> None:
        assert index.count("nope") == 0 and index.keys("nope") == set()
        assert index.keyword_search("nope", ["t"], 10) == [] and index.vector_search("nope", vec(1), 3) == []
        index.remove("nope", [1])
        index.add("c", corpus(5))
        assert index.count("c") == 0  # staged, not committed
        index.commit()
        assert index.count("c") == 5 and index.keys("c") == {1, 2, 3, 4, 5}
        assert index.size_bytes() > 0

    def test_empty_tokens_return_nothing(self, index: SearchIndex) -> None:
        index.add("c", [entry(1, "t"), entry(2)])
        index.commit()
        assert index.keyword_search("c", [], 10) == []
        assert index.keyword_search("c", [""], 10) == []
        assert index.count("c") == 2  # an entry without tokens still has its vector

    def test_dimension_mismatch_raises(self, index: SearchIndex) -> None:
        bad = IndexEntry(1, ["t"], np.ones(DIM + 1, dtype=np.float32))
        with pytest.raises(ValueError):
            index.add("c", [entry(2, "t"), bad])
        index.commit()
        assert index.count("c") == 0  # nothing of the rejected batch was staged
        index.add("c", [entry(2, "t")])
        index.commit()
        with pytest.raises(ValueError):
            index.vector_search("c", np.ones(DIM - 1, dtype=np.float32), 3)

    def test_reopen_keeps_committed_data(self, index: SearchIndex, reopen: Reopen) -> None:
        index.add("c", corpus(20))
        index.commit()
        index.add("c", [entry(99, "uncommitted")])
        again = reopen(index)
        assert again.keys("c") == set(range(1, 21))
        assert len(again.keyword_search("c", ["all"], 100)) == 20
        assert again.keyword_search("c", ["uncommitted"], 10) == []
        assert again.vector_search("c", vec(5), 1)[0].key == 5

    def test_searches_run_beside_commits(self, index: SearchIndex) -> None:
        index.add("c", corpus(200))
        index.commit()
        errors: list[BaseException] = []
        stop = threading.Event()

        def searcher() -> None:
            try:
                while not stop.is_set():
                    hits = index.vector_search("c", vec(5), 5)
                    assert hits and hits[0].key == 5 and hits[0].score > 0.99
                    assert len(index.keyword_search("c", ["all"], 5, allowed={1, 2, 3})) == 3
            except BaseException as exc:  # surfaced in the main thread
                errors.append(exc)

        threads = [threading.Thread(target=searcher) for _ in range(2)]
        for thread in threads:
            thread.start()
        for round_ in range(10):
            index.add("c", [entry(1000 + round_ * 10 + i, "new") for i in range(10)])
            index.remove("c", [round_ + 6])
            index.commit()
        stop.set()
        for thread in threads:
            thread.join()
        assert not errors
        assert index.count("c") == 200 + 100 - 10
