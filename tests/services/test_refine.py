"""refine: keywords and a normalised rewrite without a model; sane phrasings with the model."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from helpers.service_app import MODEL_MISSING, call, model_available, model_settings, started_app


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """An app without a model (the extractive provider)."""
    with started_app(tmp_path_factory.mktemp("refine")) as app:
        yield app


def refine(client: TestClient, **body: Any) -> Any:
    return call(client, "/v1/refine", body)


def test_an_english_question_becomes_its_meaningful_words(client: TestClient) -> None:
    out = refine(client, query="What are the effects of vitamin D on bone density?")

    assert out["original"] == "What are the effects of vitamin D on bone density?"
    assert out["refined"] == "effects vitamin D bone density"
    assert out["keywords"] == ["effect", "vitamin", "d", "bone", "densiti"]
    assert out["language"] == "en"
    assert out["variants"] == []
    assert out["generator"] == {"provider": "extractive", "model": "extractive"}


def test_a_korean_question_loses_its_particles_and_question_words(client: TestClient) -> None:
    out = refine(client, query="지사의 업무 범위는 무엇인가요?")

    assert out["refined"] == "지사 업무 범위"
    assert out["keywords"] == ["지사", "업무", "범위"]
    assert out["language"] == "ko"


def test_a_query_of_only_question_words_is_kept_as_it_is(client: TestClient) -> None:
    out = refine(client, query="What is it?")

    assert out["refined"] == "What is it?"
    assert out["keywords"] == []


def test_the_language_can_be_given(client: TestClient) -> None:
    assert refine(client, query="COVID-19 백신", language="en")["language"] == "en"


def test_invalid_requests_are_rejected(client: TestClient) -> None:
    for body in ({"query": ""}, {"query": "a", "max_variants": 6}, {"query": "a", "language": "fr"}):
        response = client.post("/v1/refine", json=body)
        assert response.status_code == 422, body


@pytest.fixture(scope="module")
def model_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """An app with the bundled model."""
    if not model_available():
        pytest.skip(MODEL_MISSING)
    with started_app(tmp_path_factory.mktemp("refine-model"), model_settings()) as app:
        yield app


@pytest.mark.integration
@pytest.mark.parametrize(
    ("query", "language"),
    [("How do statins lower cholesterol levels?", "en"), ("혈압을 낮추는 방법을 알려주세요", "ko")],
)
def test_model_variants_are_sane(model_client: TestClient, query: str, language: str) -> None:
    out = refine(model_client, query=query, max_variants=3)

    assert out["generator"]["provider"] == "llamacpp"
    assert out["language"] == language
    seen = {" ".join(q.casefold().split()) for q in (out["original"], out["refined"])}
    for variant in out["variants"]:
        assert variant.strip() == variant and variant
        assert len(variant) <= 2 * len(query) + 40
        assert " ".join(variant.casefold().split()) not in seen
        seen.add(" ".join(variant.casefold().split()))
    assert len(out["variants"]) <= 3
