"""Sentence splitting, sentence scoring and centrality: answers and summaries without a model."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ragworks.ingest.analysis import Analyzer
from ragworks.services.extractive import (
    Candidate,
    Sentence,
    answer_text,
    centrality,
    pick_answer,
    pick_summary,
    score_sentences,
    snippet,
    split_sentences,
    term_coverage,
    tfidf_vectors,
)


@pytest.fixture(scope="module")
def analyzer() -> Iterator[Analyzer]:
    """The real analyzer with Kiwi loaded."""
    analyzer = Analyzer()
    analyzer.start()
    yield analyzer


def texts(sentences: list[Sentence]) -> list[str]:
    return [s.text for s in sentences]


def test_english_sentences_with_abbreviations_decimals_and_line_breaks() -> None:
    text = (
        "Smith et al. reported a 3.5-fold rise (Fig. 2). Was it real? Yes!\n"
        "A heading\nThe U.S. trial ended. Dr. Kim agreed."
    )

    assert texts(split_sentences(text)) == [
        "Smith et al. reported a 3.5-fold rise (Fig. 2).",
        "Was it real?",
        "Yes!",
        "A heading",
        "The U.S. trial ended.",
        "Dr. Kim agreed.",
    ]


def test_sentence_spans_point_into_the_text() -> None:
    text = "  First one.  Second one.\n\nThird."

    for sentence in split_sentences(text):
        assert text[sentence.start : sentence.end] == sentence.text


def test_korean_sentences_without_punctuation_through_kiwi(analyzer: Analyzer) -> None:
    text = "지사의 업무 범위는 다음과 같다 그리고 본사는 서울에 있다. 이것은 시험입니다!"

    by_rules = texts(split_sentences(text))
    by_kiwi = split_sentences(text, analyzer._kiwi)

    assert by_rules == ["지사의 업무 범위는 다음과 같다 그리고 본사는 서울에 있다.", "이것은 시험입니다!"]
    assert texts(by_kiwi) == [
        "지사의 업무 범위는 다음과 같다",
        "그리고 본사는 서울에 있다.",
        "이것은 시험입니다!",
    ]
    assert all(text[s.start : s.end] == s.text for s in by_kiwi)


def test_korean_sentences_written_without_a_space_after_the_stop() -> None:
    assert texts(split_sentences("계약을 체결했다.그리고 보고했다.")) == [
        "계약을 체결했다.",
        "그리고 보고했다.",
    ]


def test_term_coverage_is_the_share_of_distinct_query_terms_present() -> None:
    assert term_coverage(["a", "b", "b", "c", "d"], ["a", "c", "x"]) == 0.5
    assert term_coverage([], ["a"]) == 0.0


def test_sentences_with_rarer_query_terms_score_higher(analyzer: Analyzer) -> None:
    sentences = [
        "Vitamin D deficiency lowers bone density in older adults.",
        "Bone is living tissue.",
        "Bone marrow makes blood cells.",
        "The weather was mild.",
    ]
    query = analyzer.tokens("Does vitamin D deficiency affect bone density?")

    scores = score_sentences(query, analyzer.tokens_many(sentences))

    assert scores[0] > scores[1] > scores[3] == 0.0  # "affect" is missing from all of them
    assert scores[1] == scores[2]


def test_similarities_are_averaged_with_the_lexical_score() -> None:
    scores = score_sentences(["a"], [["a"], ["b"]], similarities=[0.6, -0.2])

    assert scores == pytest.approx([0.8, 0.0])


def candidate(n: int, text: str, score: float) -> Candidate:
    return Candidate(n, Sentence(text, 0, len(text)), score)


def test_pick_answer_takes_the_best_full_sentences_within_the_budget() -> None:
    chosen = pick_answer(
        [
            candidate(1, "Short.", 0.99),
            candidate(2, "The second best sentence is here.", 0.7),
            candidate(1, "The best sentence is right here.", 0.9),
            candidate(3, "The best sentence is right here.", 0.9),  # the same text again
            candidate(3, "A sentence that matches nothing at all.", 0.0),
        ],
        max_sentences=3,
    )

    assert [(c.n, c.sentence.text) for c in chosen] == [
        (1, "The best sentence is right here."),
        (2, "The second best sentence is here."),
    ]
    assert answer_text(chosen) == "The best sentence is right here. [1] The second best sentence is here. [2]"


def test_pick_answer_falls_back_to_a_fragment_when_nothing_else_matches() -> None:
    chosen = pick_answer([candidate(1, "Short.", 0.5), candidate(2, "No match at all here.", 0.0)])

    assert [c.sentence.text for c in chosen] == ["Short."]
    assert pick_answer([candidate(1, "Nothing matches in this one.", 0.0)]) == []


def test_centrality_favours_sentences_sharing_the_text_main_terms(analyzer: Analyzer) -> None:
    sentences = [
        "Solar panels convert sunlight into electricity.",
        "Solar electricity is cheap when sunlight is plentiful.",
        "My cat likes fish.",
        "Panels that convert sunlight need clean glass.",
    ]
    scores = centrality(tfidf_vectors(analyzer.tokens_many(sentences)))

    assert min(scores[0], scores[1], scores[3]) > scores[2]


def test_pick_summary_keeps_document_order_and_the_word_budget(analyzer: Analyzer) -> None:
    text = (
        "Solar panels convert sunlight into electricity for homes. My cat likes fish a lot. "
        "Solar electricity for homes is cheap when sunlight is plentiful. "
        "Homes with solar panels sell electricity back to the grid."
    )
    sentences = split_sentences(text)
    vectors = tfidf_vectors(analyzer.tokens_many(texts(sentences)))

    chosen = pick_summary(sentences, centrality(vectors), vectors, target_words=20)

    assert chosen == sorted(chosen)
    assert 1 not in chosen  # the off-topic sentence
    assert sum(sentences[i].words for i in chosen) <= 20


def test_pick_summary_skips_near_duplicates() -> None:
    sentences = [Sentence(t, 0, 0) for t in ["a b c d e", "a b c d e", "f g h i j"]]
    vectors = tfidf_vectors([s.text.split() for s in sentences])

    assert pick_summary(sentences, [1.0, 0.9, 0.5], vectors, target_words=100) == [0, 2]


def test_snippet_cuts_at_a_word_boundary() -> None:
    assert snippet("one two three", 100) == "one two three"
    assert snippet("alpha beta gamma delta", 12) == "alpha beta…"
