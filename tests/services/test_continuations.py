"""Sentence continuations for auto-complete: sentence ends, clean-up, literal matches in sources."""

from __future__ import annotations

import pytest

from ragworks.services.continuations import clean, continue_from, last_sentence, sentence_end, unique


@pytest.mark.parametrize(
    ("text", "final", "end"),
    [
        ("divides rapidly. Then", False, len("divides rapidly.")),
        ("divides rapidly.", False, None),  # a decimal point or the sentence end: not known yet
        ("divides rapidly.", True, len("divides rapidly.")),
        ("costs 3.5 dollars", True, len("costs 3.5 dollars")),
        ("is it? Yes", False, len("is it?")),
        ("no end yet", False, None),
        ("first line\nsecond", False, len("first line")),
        ("다음과 같다. 그리고", False, len("다음과 같다.")),
    ],
)
def test_sentence_end_keeps_the_terminator(text: str, final: bool, end: int | None) -> None:
    assert sentence_end(text, final=final) == end


def test_clean_keeps_one_separating_space_and_drops_trailing_space() -> None:
    assert clean("The cell", "  divides rapidly.  ") == " divides rapidly."
    assert clean("The cell ", " divides.") == "divides."
    assert clean("The powerhouse of th", "e cell.") == "e cell."


def test_clean_never_echoes_the_prefix() -> None:
    assert clean("Vitamin D deficiency", "Vitamin D deficiency is common.") == " is common."
    assert clean("a", " a dog") == " a dog"  # too short to tell an echo from a continuation


def test_clean_drops_blank_continuations() -> None:
    assert clean("The cell", "   ") == ""


def test_unique_ignores_case_and_spacing() -> None:
    assert unique([" the cell.", "The  cell.", "a cell."]) == [" the cell.", "a cell."]


def test_last_sentence_is_the_one_being_typed() -> None:
    assert last_sentence("First one. Second is being") == "Second is being"
    assert last_sentence("no sentence ended") == "no sentence ended"


def test_continue_from_a_word_being_typed() -> None:
    source = "Mitochondria. The mitochondrion is the powerhouse of the cell. It makes ATP."

    match = continue_from("We know it is the powerhouse of th", source)

    assert match is not None
    assert (match.text, match.matched_words) == ("e cell.", 5)  # "is the powerhouse of th"


def test_continue_from_across_wrapped_lines_and_case() -> None:
    match = continue_from("Everyone knows the Powerhouse ", "the powerhouse of\nthe cell is big. Next")

    assert match is not None
    assert match.text == "of the cell is big."


def test_continue_from_korean_text() -> None:
    match = continue_from(
        "본사와 달리 지사의 업무 범위는", "지사의 업무 범위는 다음과 같다. 지사는 상담을 맡는다."
    )

    assert match is not None
    assert match.text == " 다음과 같다."


def test_no_continuation_without_a_long_enough_match() -> None:
    assert continue_from("abc", "abc def.") is None  # shorter than MIN_MATCH_CHARS
    assert continue_from("the powerhouse", "nothing alike here.") is None
    assert continue_from("ends the sentence.", "it ends the sentence.") is None
