"""complete: literal continuations from sources, the model's suggestions, and the no-model answers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from helpers.service_app import (
    MODEL_MISSING,
    add_documents,
    call,
    model_available,
    model_settings,
    started_app,
)

DOCUMENTS = [
    {
        "id": "cells",
        "title": "Cells",
        "text": "Mitochondria are organelles. The mitochondrion is the powerhouse of the cell. "
        "It makes ATP from glucose and oxygen.",
    },
    {
        "id": "cells-2",
        "title": "Cell energy",
        "text": "Some say the powerhouse of the cell is overrated. Plants also have chloroplasts.",
    },
    {
        "id": "branch",
        "title": "지사 규정",
        "text": "지사의 업무 범위는 다음과 같다. 지사는 지역 고객 상담과 계약 관리를 담당한다.",
    },
]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """An app without a model (the extractive provider) and one collection."""
    with started_app(tmp_path_factory.mktemp("complete")) as app:
        add_documents(app, "notes", DOCUMENTS)
        yield app


def complete(client: TestClient, **body: Any) -> Any:
    return call(client, "/v1/complete", body)


def test_a_source_sentence_continues_the_word_being_typed(client: TestClient) -> None:
    out = complete(
        client, prefix="Everyone knows that the mitochondrion is the powerhouse of th", collections=["notes"]
    )

    first = out["suggestions"][0]
    assert first["text"] == "e cell."
    assert first["origin"] == "source"
    assert first["source"]["document_id"] == "cells"


def test_source_continuations_are_distinct_and_longest_match_first(client: TestClient) -> None:
    out = complete(
        client, prefix="The mitochondrion is the powerhouse of the cell", collections=["notes"], n=5
    )

    texts = [s["text"] for s in out["suggestions"]]
    assert texts == [".", " is overrated."]  # the passage matching all seven words comes first


def test_a_korean_sentence_is_continued_from_its_source(client: TestClient) -> None:
    out = complete(client, prefix="지사의 업무 범위는", collections=["notes"])

    assert out["suggestions"][0]["text"] == " 다음과 같다."
    assert out["suggestions"][0]["source"]["document_id"] == "branch"


def test_without_a_model_the_response_says_suggestions_come_from_sources(client: TestClient) -> None:
    out = complete(client, prefix="Nothing in the sources matches this", collections=["notes"])

    assert out["suggestions"] == []
    assert out["generator"] == {"provider": "extractive", "model": "extractive"}
    assert "only continue sentences found in the sources" in out["note"]


def test_without_a_model_or_collections_the_result_is_empty_with_a_note(client: TestClient) -> None:
    out = complete(client, prefix="The weather today is")

    assert out["suggestions"] == []
    assert "no collections were given" in out["note"]


def test_a_blank_prefix_gets_no_suggestions(client: TestClient) -> None:
    out = complete(client, prefix="   ", collections=["notes"])

    assert out["suggestions"] == []
    assert out["note"] == "nothing has been typed yet"


@pytest.mark.parametrize(
    "body",
    [{"prefix": ""}, {"prefix": "x" * 2001}, {"prefix": "a b", "n": 6}, {"prefix": "a b", "collections": []}],
)
def test_invalid_requests_are_rejected(client: TestClient, body: dict[str, Any]) -> None:
    response = client.post("/v1/complete", json=body)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


def test_an_unknown_collection_is_a_404(client: TestClient) -> None:
    response = client.post("/v1/complete", json={"prefix": "The cell", "collections": ["missing"]})

    assert response.status_code == 404


@pytest.fixture(scope="module")
def model_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """An app with the bundled model."""
    if not model_available():
        pytest.skip(MODEL_MISSING)
    with started_app(tmp_path_factory.mktemp("complete-model"), model_settings()) as app:
        add_documents(app, "notes", DOCUMENTS)
        yield app


@pytest.mark.integration
def test_the_model_suggests_distinct_sentence_ends(model_client: TestClient) -> None:
    prefix = "The best way to learn a new language is"
    out = complete(model_client, prefix=prefix, n=3, max_tokens=12)

    texts = [s["text"] for s in out["suggestions"]]
    assert 1 <= len(texts) <= 3
    assert len({" ".join(t.casefold().split()) for t in texts}) == len(texts)
    for suggestion in out["suggestions"]:
        text = suggestion["text"]
        assert suggestion["origin"] == "model"
        assert text.strip() and text == text.rstrip()
        assert not text.strip().startswith(prefix)
        assert "\n" not in text
    assert out["generator"]["provider"] == "llamacpp"
    assert out["note"] is None


@pytest.mark.integration
def test_grounded_suggestions_put_the_exact_source_first_then_the_model(model_client: TestClient) -> None:
    out = complete(
        model_client, prefix="Mitochondria make ATP from gl", collections=["notes"], n=2, max_tokens=8
    )

    origins = [s["origin"] for s in out["suggestions"]]
    assert out["suggestions"][0]["text"] == "ucose and oxygen."
    assert origins[0] == "source"
    assert origins[1:] in ([], ["model"])  # the model's is left out only if it repeats the source
