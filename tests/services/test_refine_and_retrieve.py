"""refine_and_retrieve end to end on SciFact passages and Korean pages, and its rank fusion."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from helpers.service_app import add_documents, call, read_corpus, started_app
from ragworks.services.builtin.refine_and_retrieve import rrf
from ragworks.services.retrieve_models import RetrieveHit

# SciFact test claims and the passage that supports each (qrels/test.tsv)
SCIFACT = {
    "1,000 genomes project enables mapping of genetic sequence variation consisting of rare variants "
    "with larger penetrance effects than common variants.": "14717500",
}
KOREAN_QUESTION = "시중은행, 지방은행, 인터넷은행의 인가 요건 및 절차에 차이가 있는데 그 차이점은 무엇인가요?"
KOREAN_PAGE = "finance - 지방은행 시중은행 전환 가이드.pdf - 4"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[TestClient]:
    """An app with 40 SciFact passages (the relevant ones among them) and 35 pages of Korean finance
    documents (a guide to converting regional banks among them)."""
    eval_dir = shared_data / "eval"
    with started_app(tmp_path_factory.mktemp("refine-retrieve")) as app:
        add_documents(
            app, "scifact", read_corpus(eval_dir / "scifact" / "corpus.jsonl", set(SCIFACT.values()), 40)
        )
        pages = read_corpus(eval_dir / "autorag-ko" / "corpus.jsonl", limit=10_000)
        finance = [d for d in pages if d["id"].startswith("finance")]
        guide = [d for d in finance if "전환 가이드" in d["id"]]
        add_documents(app, "finance", guide + [d for d in finance if d not in guide][:20])
        yield app


def search(client: TestClient, **body: Any) -> Any:
    return call(client, "/v1/services/refine_and_retrieve", body)


@pytest.mark.slow
@pytest.mark.parametrize(("claim", "passage"), SCIFACT.items())
def test_scifact_claim_finds_its_passage(client: TestClient, claim: str, passage: str) -> None:
    out = search(client, query=claim, collections=["scifact"], top_k=5)

    assert out["queries"][0] == claim
    assert out["queries"][1] == out["refined"]["refined"]
    assert passage in [r["document_id"] for r in out["results"][:3]]


@pytest.mark.slow
def test_korean_question_finds_its_page(client: TestClient) -> None:
    out = search(client, query=KOREAN_QUESTION, collections=["finance"], top_k=5)

    assert out["refined"]["language"] == "ko"
    assert {"지방", "은행", "인가", "요건"} <= set(out["refined"]["keywords"])
    assert KOREAN_PAGE in [r["document_id"] for r in out["results"]]


@pytest.mark.slow
def test_each_chunk_appears_once_with_fused_scores(client: TestClient) -> None:
    out = search(client, query="How do genomes vary between people?", collections=["scifact"], top_k=10)

    chunk_ids = [r["chunk_id"] for r in out["results"]]
    scores = [r["score"] for r in out["results"]]
    assert len(chunk_ids) == len(set(chunk_ids)) == 10
    assert scores == sorted(scores, reverse=True)
    assert 0 < scores[0] <= len(out["queries"]) / 61 + 1e-6


@pytest.mark.slow
def test_the_output_is_what_the_schema_says(client: TestClient) -> None:
    out = search(client, query="genetic variation", collections=["scifact"], top_k=1)

    assert set(out) == {"refined", "queries", "results", "took_ms"}
    assert set(out["refined"]) >= {"original", "refined", "variants", "keywords", "language", "generator"}
    assert json.dumps(out)  # plain JSON all the way down


@pytest.mark.slow
def test_an_unknown_collection_is_a_404(client: TestClient) -> None:
    response = client.post("/v1/services/refine_and_retrieve", json={"query": "x y", "collections": ["nope"]})

    assert response.status_code == 404


def hit(chunk_id: str) -> RetrieveHit:
    return RetrieveHit(
        chunk_id=chunk_id, document_id=chunk_id, collection="c", text="t", score=9.0, start=0, end=1
    )


def test_rrf_rewards_chunks_ranked_well_by_several_searches() -> None:
    fused = rrf([[hit("a"), hit("b"), hit("c")], [hit("b"), hit("d")]], k=60)

    assert [h.chunk_id for h in fused] == ["b", "a", "d", "c"]
    assert fused[0].score == pytest.approx(1 / 62 + 1 / 61, abs=1e-6)
