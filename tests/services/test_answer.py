"""answer: grounded answers with citations that point at retrieved chunks, streamed or whole."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from helpers.service_app import (
    MODEL_MISSING,
    add_documents,
    call,
    model_available,
    read_corpus,
    started_app,
)
from helpers.services import ScriptedLLM, run_service, scripted_runner, stream_events, stream_service
from ragworks.config import LLMSettings

# SciFact abstracts: prion protein in appendixes, folic acid and homocysteine (two), ADAR1 and Dicer,
# AIRE in skin tumours, ALDH1 in breast cancer, microerythrocytes in thalassaemia.
SCIFACT_IDS = {"13734012", "5152028", "11705328", "5953485", "12580014", "45638119", "18174210"}
# One thread: on a machine shared with other work, llama.cpp threads that wait on each other lose the
# most (several times slower than one thread here).
MODEL = LLMSettings(provider="llamacpp", threads=1, context_tokens=2048)
PRION = "How common is abnormal prion protein in appendix samples in the UK?"
OFF_TOPIC = "Who won the football world cup in 2018?"
KOREAN = [
    {
        "id": "branch",
        "title": "지사 규정",
        "text": "지사의 업무 범위는 다음과 같다. 지사는 지역 고객 상담과 계약 관리를 담당한다.",
    },
    {
        "id": "leave",
        "title": "휴가 규정",
        "text": "직원은 매년 십오 일의 연차 휴가를 받는다. 휴가는 미리 신청해야 한다.",
    },
]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[TestClient]:
    """An app without a model (the extractive provider) with a few SciFact abstracts and Korean notes."""
    with started_app(tmp_path_factory.mktemp("answer")) as app:
        add_documents(app, "scifact", read_corpus(shared_data / "eval/scifact/corpus.jsonl", SCIFACT_IDS))
        add_documents(app, "notes", KOREAN)
        yield app


def answer(client: TestClient, **body: Any) -> Any:
    return call(client, "/v1/answer", {"collections": ["scifact"], **body})


def retrieved_chunks(client: TestClient, question: str, top_k: int = 5) -> dict[str, Any]:
    body = {"query": question, "collections": ["scifact"], "top_k": top_k}
    return {hit["chunk_id"]: hit for hit in call(client, "/v1/retrieve", body)["results"]}


# --- without a model -------------------------------------------------------------------------------


def test_extractive_answer_quotes_source_sentences_with_markers(client: TestClient) -> None:
    out = answer(client, question=PRION)

    assert out["found"] and out["cited"]
    assert out["generator"] == {"provider": "extractive", "model": "extractive"}
    assert "extractive" in out["note"]
    first = out["citations"][0]
    assert first["document_id"] == "13734012"
    assert f"[{first['n']}]" in out["answer"]
    assert first["text"][:60] in out["answer"]  # the quoted sentences are the snippet
    assert "appendi" in out["answer"].lower()


def test_citations_point_at_the_retrieved_chunks(client: TestClient) -> None:
    out = answer(client, question=PRION)
    chunks = retrieved_chunks(client, PRION)

    for citation in out["citations"]:
        hit = chunks[citation["chunk_id"]]
        assert citation["document_id"] == hit["document_id"]
        assert citation["collection"] == "scifact"
        assert citation["title"] == hit["title"]
        assert citation["text"].rstrip("…").split()[0] in hit["text"]


def test_an_off_topic_question_finds_nothing_and_generates_nothing(client: TestClient) -> None:
    out = answer(client, question=OFF_TOPIC)

    assert out["found"] is False
    assert out["citations"] == [] and out["sources_used"] == 0
    assert "No relevant information" in out["answer"]
    assert out["finish_reason"] is None


def test_min_relevance_zero_answers_from_whatever_was_retrieved(client: TestClient) -> None:
    out = answer(client, question=OFF_TOPIC, min_relevance=0.0, top_k=2)

    assert out["found"] and out["sources_used"] == 2


def test_korean_questions_use_the_share_of_question_terms(client: TestClient) -> None:
    found = call(client, "/v1/answer", {"question": "지사의 업무 범위는 무엇인가?", "collections": ["notes"]})
    missing = call(client, "/v1/answer", {"question": "주차장은 어디에 있나요?", "collections": ["notes"]})

    assert found["found"] and found["citations"][0]["document_id"] == "branch"
    assert "지사" in found["answer"]
    assert missing["found"] is False


def test_a_lowered_floor_with_no_matching_sentence_still_quotes_a_source(client: TestClient) -> None:
    body = {
        "question": "주차장은 어디에 있나요?",
        "collections": ["notes"],
        "mode": "vector",
        "min_relevance": 0.0,
    }

    out = call(client, "/v1/answer", body)

    assert out["found"] and out["answer"].endswith("[1]")
    assert [c["n"] for c in out["citations"]] == [1]


def test_unknown_collection_is_404(client: TestClient) -> None:
    response = client.post("/v1/answer", json={"question": "x", "collections": ["nope"]})

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_sse_stream_sends_tokens_then_citations_then_done(client: TestClient) -> None:
    events = stream_events(client, "/v1/answer", {"question": PRION, "collections": ["scifact"]})

    names = [name for name, _ in events]
    assert names[-2:] == ["citations", "done"] and set(names[:-2]) == {"token"}
    done = events[-1][1]
    assert "".join(data["text"] for name, data in events if name == "token") == done["answer"]
    assert events[-2][1]["citations"] == done["citations"]


# --- the plumbing around a model, with scripted replies ---------------------------------------------


def test_markers_map_to_sources_and_markers_naming_no_source_are_dropped(client: TestClient) -> None:
    llm = ScriptedLLM("Prions were found in appendixes [2]. Also [9]. And [1, 9].")

    out = run_service(
        client, scripted_runner(client, llm), "answer", {"question": PRION, "collections": ["scifact"]}
    )

    assert out["answer"] == "Prions were found in appendixes [2]. Also. And [1]."
    assert out["cited"] is True
    assert [c["n"] for c in out["citations"]] == [2, 1]
    assert out["generator"] == {"provider": "scripted", "model": "scripted"}
    assert out["note"] is None and out["finish_reason"] == "stop"
    prompt = llm.prompts[0]
    for citation in out["citations"]:  # source n of the prompt is the cited chunk
        assert f"[{citation['n']}] " in prompt
        block = prompt.split(f"[{citation['n']}] ", 1)[1].split("\n", 1)[0]
        chunk = retrieved_chunks(client, PRION)[citation["chunk_id"]]
        assert " ".join(chunk["text"].split())[:80] in block


def test_an_answer_citing_nothing_returns_every_source_given(client: TestClient) -> None:
    llm = ScriptedLLM("About one in two thousand people.")

    out = run_service(
        client, scripted_runner(client, llm), "answer", {"question": PRION, "collections": ["scifact"]}
    )

    assert out["cited"] is False
    assert [c["n"] for c in out["citations"]] == list(range(1, out["sources_used"] + 1))


def test_an_empty_reply_falls_back_to_quoted_sentences(client: TestClient) -> None:
    llm = ScriptedLLM("  \n")

    out = run_service(
        client, scripted_runner(client, llm), "answer", {"question": PRION, "collections": ["scifact"]}
    )

    assert out["found"] and out["cited"]
    assert out["generator"]["provider"] == "extractive"
    assert "no answer" in out["note"]


def test_nothing_relevant_means_no_model_call(client: TestClient) -> None:
    llm = ScriptedLLM("invented")

    out = run_service(
        client, scripted_runner(client, llm), "answer", {"question": OFF_TOPIC, "collections": ["scifact"]}
    )

    assert out["found"] is False and llm.prompts == []


def test_sources_are_cut_to_the_window_left_by_max_tokens(client: TestClient) -> None:
    llm = ScriptedLLM("Yes [1].", context_tokens=400)
    body = {"question": PRION, "collections": ["scifact"], "max_tokens": 100, "min_relevance": 0.0}

    out = run_service(client, scripted_runner(client, llm), "answer", body)

    prompt = llm.prompts[0]
    assert llm.count_tokens(prompt) <= 300  # ScriptedLLM also refuses a prompt that overflows
    assert "…\n" in prompt  # the last source that fit was truncated
    assert out["sources_used"] < 5
    assert prompt.endswith(f"Question: {PRION}\nAnswer:")


def test_max_tokens_that_leave_no_room_for_sources_is_a_400(client: TestClient) -> None:
    runner = scripted_runner(client, ScriptedLLM("x", context_tokens=300))

    with pytest.raises(Exception) as caught:
        run_service(
            client, runner, "answer", {"question": PRION, "collections": ["scifact"], "max_tokens": 290}
        )

    assert getattr(caught.value, "status_code", None) == 400


def test_stream_yields_the_model_tokens_then_citations_then_done(client: TestClient) -> None:
    llm = ScriptedLLM("Prions were found [1].")

    events = stream_service(
        client, scripted_runner(client, llm), "answer", {"question": PRION, "collections": ["scifact"]}
    )

    assert [name for name, _ in events] == ["token"] * 4 + ["citations", "done"]
    assert "".join(data["text"] for _, data in events[:4]) == "Prions were found [1]."
    assert events[-1][1]["answer"] == "Prions were found [1]."
    assert [c["n"] for c in events[-2][1]["citations"]] == [1]


# --- the real model ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model_client(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[TestClient]:
    """An app with the bundled model and the same SciFact abstracts."""
    if not model_available():
        pytest.skip(MODEL_MISSING)
    with started_app(tmp_path_factory.mktemp("answer-model"), MODEL) as app:
        add_documents(app, "scifact", read_corpus(shared_data / "eval/scifact/corpus.jsonl", SCIFACT_IDS))
        yield app


@pytest.mark.integration
@pytest.mark.slow
def test_model_answer_streams_tokens_then_citations_of_real_chunks(model_client: TestClient) -> None:
    body = {"question": PRION, "collections": ["scifact"], "top_k": 3, "max_tokens": 48, "temperature": 0.0}

    events = stream_events(model_client, "/v1/answer", body)

    names = [name for name, _ in events]
    assert names[-2:] == ["citations", "done"] and names.count("token") >= 2
    assert set(names[:-2]) == {"token"}
    done = events[-1][1]
    assert done["found"] and done["answer"]
    assert done["generator"]["provider"] == "llamacpp"
    chunks = retrieved_chunks(model_client, PRION, top_k=3)
    citations = events[-2][1]["citations"]
    assert citations and all(c["chunk_id"] in chunks for c in citations)
    assert all(c["document_id"] == chunks[c["chunk_id"]]["document_id"] for c in citations)


@pytest.mark.integration
@pytest.mark.slow
def test_model_is_not_asked_when_nothing_is_relevant(model_client: TestClient) -> None:
    out = call(model_client, "/v1/answer", {"question": OFF_TOPIC, "collections": ["scifact"]})

    assert out["found"] is False and out["generator"]["provider"] == "llamacpp"
    assert out["took_ms"] < 5000
