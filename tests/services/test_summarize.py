"""summarize: texts and stored documents, map-reduce over long input, and the no-model summaries."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from helpers.api import upload, wait_for_job
from helpers.files import make_pdf
from helpers.service_app import MODEL_MISSING, add_documents, call, model_available, read_corpus, started_app
from helpers.services import ScriptedLLM, run_service, scripted_runner, stream_events, stream_service
from ragworks.config import LLMSettings
from ragworks.services.document_text import join_chunks

ARTICLE = (
    "Solar panels convert sunlight into electricity for homes and offices. "
    "My neighbour's cat likes fish. "
    "The electricity that solar panels make is cheapest where sunlight is plentiful. "
    "Homes with solar panels can sell spare electricity back to the grid. "
    "Batteries store solar electricity for the night. "
    "Fig. 2 shows the panels on a roof in 2019."
)
TOPICS = [
    ("solar power", "Solar panels turn sunlight into electricity, and their price fell every year."),
    ("wind power", "Wind turbines work best on coasts and hills where the wind is strong and steady."),
    ("batteries", "Batteries store electricity for the night and smooth the supply over the day."),
    ("the grid", "The grid carries electricity from plants to homes over long high-voltage lines."),
    ("efficiency", "Insulated homes need less heating, which saves energy and lowers every bill."),
]


def report_pages(count: int) -> list[str]:
    """Pages of a synthetic energy report, each about one of five topics with its page number."""
    pages = []
    for page in range(1, count + 1):
        topic, fact = TOPICS[page % len(TOPICS)]
        pages.append(
            f"Section {page}: {topic}. {fact} This page of the report discusses {topic} in region {page}. "
            f"Engineers measured the results of {topic} over {page + 2} months and wrote them down."
        )
    return pages


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[TestClient]:
    """An app without a model (the extractive provider) with two SciFact abstracts."""
    with started_app(tmp_path_factory.mktemp("summarize")) as app:
        corpus = shared_data / "eval/scifact/corpus.jsonl"
        add_documents(app, "scifact", read_corpus(corpus, {"13734012", "5953485"}))
        yield app


def summarize(client: TestClient, **body: Any) -> Any:
    return call(client, "/v1/summarize", body)


# --- without a model -------------------------------------------------------------------------------


def test_extractive_summary_is_central_sentences_in_order(client: TestClient) -> None:
    out = summarize(client, text=ARTICLE, target_words=30)

    assert out["generator"] == {"provider": "extractive", "model": "extractive"}
    assert "extractive" in out["note"]
    assert out["parts"] == 1 and out["input_words"] == len(ARTICLE.split())
    assert "cat" not in out["summary"]
    assert len(out["summary"].split()) <= 30
    positions = [ARTICLE.index(s) for s in re.split(r"(?<=\.) ", out["summary"])]
    assert positions == sorted(positions)


def test_extractive_bullets(client: TestClient) -> None:
    out = summarize(client, text=ARTICLE, target_words=30, style="bullets")

    lines = out["summary"].splitlines()
    assert len(lines) >= 2 and all(line.startswith("- ") for line in lines)


def test_a_stored_document_is_read_from_its_chunks(client: TestClient) -> None:
    out = summarize(client, collection="scifact", document_id="13734012", target_words=60)

    assert out["document_id"] == "13734012"
    assert out["title"].startswith("Prevalent abnormal prion protein")
    assert out["input_words"] > 250
    assert "appendi" in out["summary"]


@pytest.mark.parametrize(
    "body",
    [
        {"text": "Some text.", "collection": "scifact", "document_id": "13734012"},
        {},
        {"collection": "scifact"},
        {"document_id": "13734012"},
    ],
    ids=["both", "neither", "collection-only", "document-only"],
)
def test_exactly_one_input_or_a_422(client: TestClient, body: dict[str, Any]) -> None:
    response = client.post("/v1/summarize", json=body)

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert "text" in str(error) or "document_id" in str(error)


def test_an_unknown_document_is_404(client: TestClient) -> None:
    response = client.post("/v1/summarize", json={"collection": "scifact", "document_id": "nope"})

    assert response.status_code == 404


def test_sse_stream_sends_the_summary_then_done(client: TestClient) -> None:
    events = stream_events(client, "/v1/summarize", {"text": ARTICLE, "target_words": 30})

    assert [name for name, _ in events] == ["token", "done"]
    assert events[0][1]["text"] == events[1][1]["summary"]


def test_runs_in_the_background_as_a_job(client: TestClient) -> None:
    response = client.post("/v1/summarize", json={"text": ARTICLE, "target_words": 30, "async": True})

    assert response.status_code == 202, response.text
    job = wait_for_job(client, response.json()["job_id"])
    assert job["status"] == "succeeded"
    assert job["result"]["summary"] == summarize(client, text=ARTICLE, target_words=30)["summary"]


def test_listed_as_streaming_services_with_their_routes(client: TestClient) -> None:
    services = {s["name"]: s for s in client.get("/v1/services").json()["services"]}

    assert services["summarize"]["streams"] and "/v1/summarize" in services["summarize"]["routes"]
    assert services["answer"]["streams"] and "/v1/answer" in services["answer"]["routes"]
    assert "text" in services["summarize"]["input_schema"]["properties"]


def test_join_chunks_removes_overlaps_and_keeps_gaps() -> None:
    text = "One two three. Four five six.\n\nSeven eight."
    spans = [(text[0:29], 0, 29), (text[15:29], 15, 29), (text[31:], 31, len(text))]

    assert join_chunks([(text[0:20], 0, 20), (text[15:29], 15, 29)]) == text[0:29]
    assert join_chunks(spans) == text


# --- map-reduce plumbing, with scripted replies -------------------------------------------------------


def numbered_summaries() -> ScriptedLLM:
    """Replies 'part summary N' to map prompts and 'final summary' to the last one."""
    count = 0

    def reply(prompt: str) -> str:
        nonlocal count
        count += 1
        return "final summary of the parts" if "part summary" in prompt else f"part summary {count}"

    return ScriptedLLM(reply, context_tokens=400)


def test_long_text_is_summarized_part_by_part_then_reduced(client: TestClient) -> None:
    llm = numbered_summaries()
    text = " ".join(report_pages(40))  # about 1,700 words: five parts of a 400-token window

    out = run_service(client, scripted_runner(client, llm), "summarize", {"text": text, "target_words": 20})

    assert out["summary"] == "final summary of the parts"
    assert out["parts"] == len(llm.prompts) - 1 > 1
    final = llm.prompts[-1]
    assert all(f"part summary {n}" in final for n in range(1, out["parts"] + 1))
    mapped = " ".join(p.split("Text:\n", 1)[1].split("\n\nSummary:")[0] for p in llm.prompts[:-1])
    assert mapped.split() == text.split()  # every word went into exactly one part, in order


def test_summaries_too_long_for_the_window_are_reduced_in_rounds(client: TestClient) -> None:
    llm = ScriptedLLM(lambda p: "word " * 60 if "Section" in p else "the end", context_tokens=400)
    text = " ".join(report_pages(60))

    out = run_service(client, scripted_runner(client, llm), "summarize", {"text": text, "target_words": 20})

    assert out["summary"] == "the end"
    first_round = sum("Section" in p for p in llm.prompts)
    assert out["parts"] > first_round > 1  # a second round summarized the first round's summaries


def test_a_window_too_small_for_the_summary_is_a_400(client: TestClient) -> None:
    runner = scripted_runner(client, ScriptedLLM("x", context_tokens=300))

    with pytest.raises(Exception) as caught:
        run_service(client, runner, "summarize", {"text": ARTICLE, "target_words": 200})

    assert getattr(caught.value, "status_code", None) == 400


def test_an_empty_reply_falls_back_to_central_sentences(client: TestClient) -> None:
    out = run_service(client, scripted_runner(client, ScriptedLLM("")), "summarize", {"text": ARTICLE})

    assert out["generator"]["provider"] == "extractive" and "no summary" in out["note"]
    assert out["summary"]


def test_bullet_replies_are_normalised(client: TestClient) -> None:
    llm = ScriptedLLM(" Panels make power.\n* Batteries store it.\n\n-   The grid carries it.")

    out = run_service(
        client, scripted_runner(client, llm), "summarize", {"text": ARTICLE, "style": "bullets"}
    )

    assert out["summary"] == "- Panels make power.\n- Batteries store it.\n- The grid carries it."
    assert llm.prompts[0].endswith("Summary:\n-")


def test_stream_yields_the_final_summary_tokens(client: TestClient) -> None:
    events = stream_service(
        client, scripted_runner(client, ScriptedLLM("Panels make power.")), "summarize", {"text": ARTICLE}
    )

    assert [name for name, _ in events] == ["token", "token", "token", "done"]
    assert events[-1][1]["summary"] == "Panels make power."


# --- the real model ----------------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.slow
def test_model_summarizes_a_100_page_pdf_by_document_id(tmp_path: Path) -> None:
    if not model_available():
        pytest.skip(MODEL_MISSING)
    # One thread: on a machine shared with other work, llama.cpp threads that wait on each other lose
    # the most. Short pages in a 1024-token window keep the model's reading (the cost) small while the
    # 100 pages still take several parts.
    llm = LLMSettings(provider="llamacpp", threads=1, context_tokens=1024)
    pages = [f"Page {n}. {TOPICS[n % len(TOPICS)][1]}" for n in range(1, 101)]
    with started_app(tmp_path, llm) as app:
        assert app.post("/v1/collections", json={"name": "reports"}).status_code == 201
        accepted = upload(app, "reports", [("report.pdf", make_pdf(pages, title="Energy report"))])
        assert accepted.status_code == 202, accepted.text
        document = accepted.json()["documents"][0]
        assert wait_for_job(app, document["job_id"])["status"] == "succeeded"

        body = {"collection": "reports", "document_id": document["id"], "target_words": 30, "max_tokens": 40}
        out = summarize(app, **body, temperature=0.0)

    assert out["parts"] > 1
    assert out["summary"].strip()
    assert out["generator"]["provider"] == "llamacpp" and out["note"] is None
    assert out["input_words"] >= 100 * 14
