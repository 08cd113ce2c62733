"""Query rewriting without a model, and the checks on a model's phrasings (real analyzer, Kiwi)."""

from __future__ import annotations

import pytest

from ragworks.ingest.analysis import Analyzer
from ragworks.services.query_rewrite import normalise, parse_variants, sane, variants_prompt


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    started = Analyzer()
    started.start()
    return started


@pytest.mark.parametrize(
    ("query", "rewrite"),
    [
        ("What are the effects of vitamin D on bone density?", "effects vitamin D bone density"),
        ("How does COVID-19 spread between people?", "COVID-19 spread people"),
        ("Can you please tell me about the U.S. economy?", "U.S. economy"),
        ("지사의 업무 범위는 무엇인가요?", "지사 업무 범위"),
        ("코로나19 백신의 부작용에 대해 설명해 주세요", "코로나19 백신 부작용"),
        ("인구가 감소한 지역은 어디인가요", "인구 감소한 지역"),
        ("2020년 매출이 증가했나요?", "2020년 매출 증가"),
        ("서울에서 부산까지 KTX로 얼마나 걸리나요", "서울 부산 KTX 걸리"),
    ],
)
def test_normalise_keeps_the_meaningful_words(analyzer: Analyzer, query: str, rewrite: str) -> None:
    assert normalise(query, analyzer) == rewrite


def test_normalise_of_only_question_words_is_empty(analyzer: Analyzer) -> None:
    assert normalise("what is it?", analyzer) == ""


def test_prompt_shows_examples_in_the_query_language() -> None:
    prompt = variants_prompt("혈압 관리", "ko", 2)

    assert "지사 업무 범위 | 지사가 담당하는 업무\n" in prompt
    assert "vaccine" not in prompt
    assert prompt.endswith("Query: 혈압 관리\nOther ways:")


def test_parse_variants_strips_bullets_and_quotes() -> None:
    assert parse_variants(' 1. "vitamin D bones" | bone density vitamin |  \nQuery: x') == [
        "vitamin D bones",
        "bone density vitamin",
    ]


def test_sane_variants_keep_the_subject_and_the_language(analyzer: Analyzer) -> None:
    query = "vitamin D and bone density"
    terms = set(analyzer.tokens(query))

    assert sane("bone density and vitamin D intake", query, "en", terms, analyzer)
    assert sane("vitamin D for bones and their density", query, "en", terms, analyzer)
    assert not sane("weather forecast tomorrow", query, "en", terms, analyzer)  # off topic
    assert not sane("vitamin D", query, "en", terms, analyzer)  # a fragment of the question
    assert not sane("비타민 D 골밀도", query, "en", terms, analyzer)  # another language
    assert not sane("vitamin " * 40, query, "en", terms, analyzer)  # too long
