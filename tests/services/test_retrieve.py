"""Retriever on a real store and index: the embedding overlaps the keyword leg, same results either way."""

from __future__ import annotations

import threading
from collections.abc import Collection as AbstractSet
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from helpers.store import draft, open_database
from ragworks.config import SearchSettings
from ragworks.domain import NewChunk
from ragworks.engines.index.base import Hit, IndexEntry, Vector
from ragworks.engines.index.local import LocalSearchIndex
from ragworks.engines.store.sql import SqlDatabase, SqlMetadataStore
from ragworks.engines.store.sql_chunks import SqlChunkStore
from ragworks.errors import NotFound
from ragworks.ingest.analysis import Analyzer
from ragworks.services import retrieve as retrieve_module
from ragworks.services.highlight import highlight
from ragworks.services.retrieve import NARROW_MARGIN, Retriever
from ragworks.services.retrieve_models import RetrieveInput, RetrieveOutput

DIM = 4
TEXTS = [
    "Refunds are paid within five working days of the request.",
    "Parcels leave the warehouse every morning; refunds for lost parcels follow.",
    "Glaciers retreat as summers grow warmer.",
    "Running shoes wear out after 800 kilometres of running.",
]


def embedding(text: str) -> Vector:
    """A deterministic toy embedding: letter counts folded into DIM values, normalised."""
    values = np.zeros(DIM, dtype=np.float32)
    for char in text.lower():
        if char.isalpha():
            values[ord(char) % DIM] += 1.0
    return values / (np.linalg.norm(values) or 1.0)


class PlainEmbedder:
    """An Embedder without a query path."""

    name, dimension, max_tokens, languages = "toy", DIM, 256, frozenset({"en"})

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def start(self) -> None:
        pass

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.calls.append(list(texts))
        return np.vstack([embedding(t) for t in texts]) if texts else np.zeros((0, DIM), np.float32)

    def count_tokens(self, text: str) -> int:
        return len(text.split())


class QueryPathEmbedder(PlainEmbedder):
    """An embedder whose query vectors arrive late: after the keyword leg ran, or after 1 s."""

    def __init__(self) -> None:
        super().__init__()
        self.pending: list[Future[Vector]] = []
        self.keyword_leg_ran = threading.Event()

    def submit_query(self, text: str) -> Future[Vector]:
        future: Future[Vector] = Future()
        self.pending.append(future)
        self.keyword_leg_ran.clear()

        def finish() -> None:
            self.keyword_leg_ran.wait(1.0)
            future.set_result(embedding(text))

        threading.Thread(target=finish, daemon=True).start()
        return future


class RecordingIndex(LocalSearchIndex):
    """Notes, at each keyword search, whether the query's embedding was still being computed."""

    def __init__(self, root: Path, embedder: QueryPathEmbedder | None) -> None:
        super().__init__(root, DIM)
        self.embedder = embedder
        self.embedding_pending_during_keyword: list[bool] = []

    def keyword_search(
        self, collection: str, tokens: Sequence[str], limit: int, allowed: AbstractSet[int] | None = None
    ) -> list[Hit]:
        if self.embedder is not None:
            self.embedding_pending_during_keyword.append(any(not f.done() for f in self.embedder.pending))
            self.embedder.keyword_leg_ran.set()  # the vector comes once the keyword leg is done
        return super().keyword_search(collection, tokens, limit, allowed)


def build(db: SqlDatabase, root: Path, embedder: PlainEmbedder) -> Iterator[tuple[Retriever, RecordingIndex]]:
    store, chunk_store, analyzer = SqlMetadataStore(db), SqlChunkStore(db), Analyzer()
    index = RecordingIndex(root, embedder if isinstance(embedder, QueryPathEmbedder) else None)
    index.start()
    store.create_collection("docs", "en", "")
    for number, text in enumerate(TEXTS):
        document_id = f"d{number}"
        store.accept_document(draft("docs", document_id, content=text, metadata={"n": number}), {}, 4)
        row = NewChunk(
            0, text, 0, len(text), None, None, "en", analyzer.tokens(text), embedding(text).tobytes()
        )
        _, keys = chunk_store.replace_chunks("docs", document_id, 1, [row])
        chunk_store.activate_version("docs", document_id, 1, 1)
        index.add("docs", [IndexEntry(keys[0], row.tokens, embedding(text))])
    index.commit()
    retriever = Retriever(
        store=store,
        chunk_store=chunk_store,
        index=index,
        analyzer=analyzer,
        embedder=embedder,
        settings=SearchSettings(),
    )
    yield retriever, index
    index.close()


@pytest.fixture
def overlapped(tmp_path: Path) -> Iterator[tuple[Retriever, RecordingIndex]]:
    (tmp_path / "overlapped").mkdir()
    with open_database(tmp_path / "overlapped") as db:
        yield from build(db, tmp_path / "overlapped" / "index", QueryPathEmbedder())


@pytest.fixture
def plain(tmp_path: Path) -> Iterator[tuple[Retriever, RecordingIndex]]:
    (tmp_path / "plain").mkdir()
    with open_database(tmp_path / "plain") as db:
        yield from build(db, tmp_path / "plain" / "index", PlainEmbedder())


def test_the_keyword_leg_runs_while_the_query_is_embedded(
    overlapped: tuple[Retriever, RecordingIndex],
) -> None:
    retriever, index = overlapped

    output = retriever.retrieve(RetrieveInput(query="refunds paid", collections=["docs"], mode="hybrid"))

    assert index.embedding_pending_during_keyword == [True]
    assert output.results[0].document_id == "d0"


def test_both_embedders_give_the_same_results(
    overlapped: tuple[Retriever, RecordingIndex], plain: tuple[Retriever, RecordingIndex]
) -> None:
    for mode in ("hybrid", "vector", "keyword"):
        for query in ("refunds for parcels", "running glaciers", "warm summers"):
            request = RetrieveInput(query=query, collections=["docs"], mode=mode, top_k=3)
            a, b = overlapped[0].retrieve(request), plain[0].retrieve(request)
            assert a.model_dump(exclude={"took_ms"}) == b.model_dump(exclude={"took_ms"})


def test_highlights_are_those_of_each_hit(plain: tuple[Retriever, RecordingIndex]) -> None:
    retriever, _ = plain
    request = RetrieveInput(query="running refunds", collections=["docs"], mode="hybrid", top_k=4)
    tokens = set(retriever.analyzer.tokens(request.query))

    results = retriever.retrieve(request).results

    assert results and all(
        hit.highlights == highlight(hit.text, tokens, retriever.analyzer) for hit in results
    )
    assert any(hit.highlights for hit in results)
    unmarked = retriever.retrieve(request.model_copy(update={"highlight": False})).results
    assert [h.highlights for h in unmarked] == [None] * len(unmarked)
    vector_only = retriever.retrieve(request.model_copy(update={"mode": "vector"})).results
    assert [h.highlights for h in vector_only] == [None] * len(vector_only)


def test_keyword_mode_embeds_nothing(plain: tuple[Retriever, RecordingIndex]) -> None:
    retriever, _ = plain
    embedder = retriever.embedder
    assert isinstance(embedder, PlainEmbedder)

    retriever.retrieve(RetrieveInput(query="refunds", collections=["docs"], mode="keyword"))

    assert embedder.calls == []


def test_an_unknown_collection_fails_before_any_embedding(
    overlapped: tuple[Retriever, RecordingIndex],
) -> None:
    retriever, _ = overlapped
    embedder = retriever.embedder
    assert isinstance(embedder, QueryPathEmbedder)

    with pytest.raises(NotFound):
        retriever.retrieve(RetrieveInput(query="refunds", collections=["docs", "missing"]))

    assert embedder.pending == []


def test_filters_apply_to_both_legs(overlapped: tuple[Retriever, RecordingIndex]) -> None:
    retriever, _ = overlapped
    request = RetrieveInput(query="refunds parcels", collections=["docs"], filters={"n": {"gte": 1}}, top_k=4)

    results = retriever.retrieve(request).results

    assert results and {hit.document_id for hit in results} <= {"d1", "d2", "d3"}


def test_concurrent_requests_each_get_their_own_answer(plain: tuple[Retriever, RecordingIndex]) -> None:
    retriever, _ = plain
    queries = ["refunds", "glaciers", "running", "parcels"] * 4
    expected = {q: retriever.retrieve(RetrieveInput(query=q, collections=["docs"])) for q in set(queries)}
    answers: dict[int, RetrieveOutput] = {}

    def ask(i: int) -> None:
        answers[i] = retriever.retrieve(RetrieveInput(query=queries[i], collections=["docs"]))

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(queries))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i, query in enumerate(queries):
        got = answers[i]
        assert got.model_dump(exclude={"took_ms"}) == expected[query].model_dump(exclude={"took_ms"})


class LimitRecordingIndex(LocalSearchIndex):
    def __init__(self, root: Path) -> None:
        super().__init__(root, DIM)
        self.keyword_limits: list[int] = []

    def keyword_search(
        self, collection: str, tokens: Sequence[str], limit: int, allowed: AbstractSet[int] | None = None
    ) -> list[Hit]:
        self.keyword_limits.append(limit)
        return super().keyword_search(collection, tokens, limit, allowed)


@pytest.fixture
def many(tmp_path: Path) -> Iterator[tuple[Retriever, LimitRecordingIndex, SqlMetadataStore]]:
    """40 documents about refunds, the more often 'refund' the lower the number; none deleted yet."""
    with open_database(tmp_path) as db:
        store, chunk_store, analyzer = SqlMetadataStore(db), SqlChunkStore(db), Analyzer()
        index = LimitRecordingIndex(tmp_path / "index")
        index.start()
        store.create_collection("docs", "en", "")
        for number in range(40):
            text = "refund " * (40 - number) + f"document {number} about parcels"
            document_id = f"d{number:02d}"
            store.accept_document(draft("docs", document_id, content=text), {}, 4)
            row = NewChunk(
                0, text, 0, len(text), None, None, "en", analyzer.tokens(text), embedding(text).tobytes()
            )
            _, keys = chunk_store.replace_chunks("docs", document_id, 1, [row])
            chunk_store.activate_version("docs", document_id, 1, 1)
            index.add("docs", [IndexEntry(keys[0], row.tokens, embedding(text))])
        index.commit()
        settings = SearchSettings()
        yield Retriever(store, chunk_store, index, analyzer, PlainEmbedder(), settings), index, store
        index.close()


def test_keyword_only_fetches_a_little_more_than_the_page(
    many: tuple[Retriever, LimitRecordingIndex, SqlMetadataStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    retriever, index, _ = many
    request = RetrieveInput(query="refund", collections=["docs"], mode="keyword", top_k=3)

    narrowed = retriever.retrieve(request)
    assert index.keyword_limits == [3 + NARROW_MARGIN]
    monkeypatch.setattr(retrieve_module, "NARROW_MARGIN", 10**6)  # the old way: always the whole pool
    assert narrowed.model_dump(exclude={"took_ms"}) == retriever.retrieve(request).model_dump(
        exclude={"took_ms"}
    )

    monkeypatch.undo()
    retriever.store.create_collection("more", "en", "")
    hybrid_sorted_or_several = [
        RetrieveInput(query="refund", collections=["docs"], mode="hybrid", top_k=3),
        RetrieveInput(query="refund", collections=["docs"], mode="keyword", top_k=3, sort={"by": "n"}),
        RetrieveInput(query="refund", collections=["docs", "more"], mode="keyword", top_k=3),
    ]
    # fusion normalises over, and sorting reorders, the whole pool; several collections are merged
    for other in hybrid_sorted_or_several:
        index.keyword_limits.clear()
        retriever.retrieve(other)
        assert set(index.keyword_limits) == {100}


def test_keyword_only_refetches_the_pool_when_unseen_hits_left_the_page_short(
    many: tuple[Retriever, LimitRecordingIndex, SqlMetadataStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    retriever, index, store = many
    request = RetrieveInput(query="refund", collections=["docs"], mode="keyword", top_k=5, offset=2)
    everything = request.model_copy(update={"top_k": 40, "offset": 0})
    ranking = [hit.document_id for hit in retriever.retrieve(everything).results]
    for document_id in ranking[:15]:  # the 15 best matches are being deleted: searches no longer see them
        store.request_delete("docs", document_id, 4)
    index.keyword_limits.clear()

    narrowed = retriever.retrieve(request)
    assert index.keyword_limits == [7 + NARROW_MARGIN, 100]
    monkeypatch.setattr(retrieve_module, "NARROW_MARGIN", 10**6)  # the old way: always the whole pool
    whole = retriever.retrieve(request)

    assert [hit.document_id for hit in narrowed.results] == ranking[17:22]
    assert narrowed.model_dump(exclude={"took_ms"}) == whole.model_dump(exclude={"took_ms"})
