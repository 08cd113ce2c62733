"""The BM25 analyzer: Korean morphemes, English stems and stop words, mixed text, language detection."""

from __future__ import annotations

import pytest

from ragworks.ingest.analysis import MAX_WORD_CHARS, Analyzer


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    started = Analyzer()
    started.start()
    return started


@pytest.mark.parametrize("word", ["지사의", "지사는", "지사가"])
def test_particles_are_dropped_from_nouns(analyzer: Analyzer, word: str) -> None:
    assert analyzer.tokens(word) == ["지사"]


def test_korean_query_with_other_particles_matches_passage(analyzer: Analyzer) -> None:
    passage = analyzer.tokens("경기도 지사는 도의 행정 사무를 총괄한다.")
    query = analyzer.tokens("경기도 지사의 행정 역할이 뭐야?")
    assert {"경기도", "지사", "행정"} <= set(passage) & set(query)


def test_endings_and_particles_leave_content_only(analyzer: Analyzer) -> None:
    assert analyzer.tokens("학교에서 공부했습니다.") == ["학교", "공부"]


def test_conjugated_verbs_give_their_stem(analyzer: Analyzer) -> None:
    assert analyzer.tokens("먹었다") == analyzer.tokens("먹는") == ["먹"]


def test_compound_noun_written_as_one_word_gives_parts_and_whole(analyzer: Analyzer) -> None:
    # the whole ranks a document that spells the compound as the query does above one with the parts
    assert analyzer.tokens("시중은행") == ["시중", "은행", "시중은행"]


def test_spaced_compound_meets_the_one_word_spelling_on_its_parts(analyzer: Analyzer) -> None:
    spaced = analyzer.tokens("시중 은행")
    assert spaced == ["시중", "은행"]
    assert set(spaced) < set(analyzer.tokens("시중은행"))


def test_nouns_separated_by_a_particle_or_space_are_not_joined(analyzer: Analyzer) -> None:
    tokens = analyzer.tokens("지방은행의 시중은행 전환")
    assert tokens == ["지방", "은행", "지방은행", "시중", "은행", "시중은행", "전환"]


def test_latin_word_attached_to_korean_noun_keeps_both(analyzer: Analyzer) -> None:
    # "e커머스": the Latin part goes through the English path and is not glued to the Korean noun
    assert analyzer.tokens("e커머스의 급성장") == ["e", "커머스", "급성장"]


def test_english_is_stemmed_without_stop_words(analyzer: Analyzer) -> None:
    assert analyzer.tokens("The running dogs") == ["run", "dog"]


def test_english_digit_compound_gives_parts_and_joined_form(analyzer: Analyzer) -> None:
    assert analyzer.tokens("COVID-19") == ["covid", "19", "covid19"]


def test_decimal_numbers_stay_whole(analyzer: Analyzer) -> None:
    assert analyzer.tokens("rose 3.5 percent") == ["rose", "3.5", "percent"]


def test_mixed_text_uses_each_script_path(analyzer: Analyzer) -> None:
    assert analyzer.tokens("The running dogs는 학교에서 뛰었다") == ["run", "dog", "학교", "뛰"]


def test_latin_words_inside_korean_match_english_text(analyzer: Analyzer) -> None:
    english = analyzer.tokens("COVID-19 vaccines")
    assert analyzer.tokens("COVID-19 vaccines의 효과") == [*english, "효과"]


def test_full_width_latin_is_folded(analyzer: Analyzer) -> None:
    assert analyzer.tokens("ＤＯＧＳ") == ["dog"]


@pytest.mark.parametrize("text", ["", "   ", "?!"])
def test_text_without_words_gives_no_tokens(analyzer: Analyzer, text: str) -> None:
    assert analyzer.tokens(text) == []


def test_tokens_many_equals_tokens_one_by_one(analyzer: Analyzer) -> None:
    texts = ["The running dogs", "지사의 역할", "", "AI 모델의 정확도", "경기도 지사는 누구인가요?"]
    assert analyzer.tokens_many(texts) == [analyzer.tokens(t) for t in texts]


def test_korean_text_needs_start() -> None:
    with pytest.raises(RuntimeError):
        Analyzer().tokens("지사의 역할")


def test_english_text_works_before_start() -> None:
    assert Analyzer().tokens("running dogs") == ["run", "dog"]


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("경기도 지사의 역할은 무엇인가요?", "ko"),
        ("COVID-19 백신의 효과", "ko"),
        ("The running dogs", "en"),
        ("A long English sentence about retrieval with one word 모델", "en"),
        ("", "en"),
        ("東京の天気はどうですか", "ja"),
    ],
)
def test_language_of(text: str, language: str) -> None:
    assert Analyzer().language_of(text) == language


# Hostile text: every case must end in bounded time (pytest-timeout) with sensible terms or none.


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "text",
    [
        "a" * 10_000_000,  # a 10 MB "word"
        "가" * 1_000_000,  # a megabyte of one syllable: four minutes of Kiwi if not blanked out
        "!" * 1_000_000,
        "-." * 100_000,  # Kiwi alone: 30 s (quadratic in a run without spaces)
        "a." * 500_000,
        "e" + "\u0301" * 1_000_000,  # combining accents
        "\x00" * 100_000,
    ],
    ids=["10mb-word", "1m-syllables", "1m-punctuation", "separators", "dotted", "combining", "nul"],
)
def test_pathological_text_is_analysed_in_bounded_time(analyzer: Analyzer, text: str) -> None:
    tokens = analyzer.tokens_many([text, text + " 지사의 역할"])
    assert all(len(token) <= MAX_WORD_CHARS for token in tokens[0] + tokens[1])
    assert tokens[1][-2:] == ["지사", "역할"]


def test_overlong_words_give_no_term_but_their_neighbours_do(analyzer: Analyzer) -> None:
    blob = "QUJD" * 100
    assert analyzer.tokens(f"retrieval {blob} systems") == ["retriev", "system"]
    assert analyzer.tokens(f"지사의 {blob} 역할") == ["지사", "역할"]


def test_long_hyphenated_compound_keeps_its_parts(analyzer: Analyzer) -> None:
    compound = "-".join(["retrieval"] * 10)  # 99 characters
    assert analyzer.tokens(compound) == ["retriev"] * 10


@pytest.mark.parametrize(
    "text",
    ["지사\ud800의 역할", "abc\udfffdef", "지사\x00의", "Mixed 한국어 русский 中文 العربية text"],
    ids=["lone-surrogate-korean", "lone-surrogate-latin", "nul-korean", "mixed-scripts"],
)
def test_broken_or_mixed_unicode_does_not_crash(analyzer: Analyzer, text: str) -> None:
    assert analyzer.tokens(text) == analyzer.tokens_many([text])[0]
    assert analyzer.tokens(text)
