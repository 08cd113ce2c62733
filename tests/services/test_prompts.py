"""Prompts within token budgets, and citation markers in generated text."""

from __future__ import annotations

import pytest

from ragworks.services.prompts import (
    MIN_SOURCE_TOKENS,
    PromptSource,
    answer_prompt,
    cited_numbers,
    clean_markers,
    cut_at_stop,
    pack_parts,
    summary_prompt,
    tidy,
    truncate_to_tokens,
)


def words(text: str) -> int:
    """Whitespace words: a token counter whose numbers are easy to check by eye."""
    return len(text.split())


def sources(*texts: str) -> list[PromptSource]:
    return [PromptSource(n, text) for n, text in enumerate(texts, start=1)]


LONG = " ".join(f"w{i}" for i in range(200))


def test_answer_prompt_numbers_sources_and_ends_with_the_question() -> None:
    packed = answer_prompt(
        "Why?", [PromptSource(1, "Alpha.", "Title A"), PromptSource(2, "Beta.")], 500, words
    )

    assert "[1] Title A. Alpha.\n[2] Beta.\n" in packed.prompt
    assert packed.prompt.endswith("\nQuestion: Why?\nAnswer:")
    assert packed.sources == (1, 2)
    assert not packed.truncated


def test_answer_prompt_does_not_repeat_a_title_the_text_starts_with() -> None:
    packed = answer_prompt("Why?", [PromptSource(1, "Title A. Alpha.", "Title A")], 500, words)

    assert "[1] Title A. Alpha.\n" in packed.prompt


def test_answer_prompt_truncates_the_last_source_to_the_budget() -> None:
    fixed = words(answer_prompt("Why?", [], 10_000, words).prompt)
    budget = fixed + 10 + 100  # room for the first source and half of the second

    packed = answer_prompt("Why?", sources("a b c d e f g h i", LONG, "never shown"), budget, words)

    assert packed.sources == (1, 2)
    assert packed.truncated
    assert words(packed.prompt) <= budget
    assert "never shown" not in packed.prompt
    assert "w0 w1" in packed.prompt and "w199" not in packed.prompt
    assert "…" in packed.prompt


def test_answer_prompt_leaves_out_a_source_that_would_keep_only_a_few_words() -> None:
    first = " ".join("x" * MIN_SOURCE_TOKENS)  # with its "[1]", one word more than the minimum
    fixed = words(answer_prompt("Why?", [], 10_000, words).prompt)
    budget = fixed + MIN_SOURCE_TOKENS + 1 + MIN_SOURCE_TOKENS // 2

    packed = answer_prompt("Why?", sources(first, LONG), budget, words)

    assert packed.sources == (1,)
    assert "w0" not in packed.prompt


def test_answer_prompt_without_room_for_any_source_is_an_error() -> None:
    with pytest.raises(ValueError, match="no room"):
        answer_prompt("a long question " * 20, sources("x"), 30, words)


def test_truncate_to_tokens_keeps_the_longest_prefix_that_fits() -> None:
    cut = truncate_to_tokens(LONG, 11, words)

    assert cut == " ".join(f"w{i}" for i in range(10)) + " …"
    assert truncate_to_tokens("short text", 5, words) == "short text"


def test_cited_numbers_in_order_of_first_citation_without_unknown_ones() -> None:
    text = "A [2]. B [1][2]. C [7]. D [1, 3]. E [Source 4]."

    assert cited_numbers(text, [1, 2, 3, 4]) == [2, 1, 3, 4]
    assert cited_numbers(text, [1, 2]) == [2, 1]
    assert cited_numbers("no markers here", [1]) == []


def test_cited_numbers_expand_ranges() -> None:
    assert cited_numbers("see [1-3]", [1, 2, 3, 4]) == [1, 2, 3]
    assert cited_numbers("see [1–2]", [1, 2]) == [1, 2]


def test_clean_markers_drops_numbers_that_name_no_source() -> None:
    text = "Fact one [1]. Fact two [9]. Fact three [2, 9]. Year [2019] stays a marker-free [ ] text."

    cleaned = clean_markers(text, [1, 2])

    assert cleaned == "Fact one [1]. Fact two. Fact three [2]. Year stays a marker-free [ ] text."


def test_cut_at_stop_cuts_at_the_earliest_stop_string() -> None:
    assert cut_at_stop("answer\nQuestion: next\n\n\nmore", ["\n\n\n", "\nQuestion:"]) == "answer"
    assert cut_at_stop("answer", ["\nQuestion:"]) == "answer"


def test_summary_prompt_asks_for_the_style_and_length() -> None:
    paragraph = summary_prompt("Some text.", 80, "paragraph")
    bullets = summary_prompt("Some text.", 80, "bullets")

    assert "about 80 words" in paragraph and paragraph.endswith("Summary:")
    assert "bulleted list" in bullets and bullets.endswith("Summary:\n-")
    assert "Text:\nSome text.\n" in paragraph


def test_pack_parts_fills_parts_up_to_the_budget_in_order() -> None:
    pieces = ["a b c.", "d e f.", "g h i.", "j k l."]  # 3 words + 1 for the join each

    assert pack_parts(pieces, 8, words) == ["a b c. d e f.", "g h i. j k l."]
    assert pack_parts(pieces, 100, words) == [" ".join(pieces)]


def test_pack_parts_cuts_a_piece_larger_than_the_budget() -> None:
    parts = pack_parts(["x.", LONG, "y."], 50, words)

    assert all(words(p) <= 50 for p in parts)
    assert " ".join(parts).split() == ["x.", *LONG.split(), "y."]


def test_tidy_drops_repeated_sentences() -> None:
    text = "ADAR1 binds Dicer [2]. ADAR1 binds Dicer [2]. It helps RNAi."

    assert tidy(text, cut_unfinished=False) == "ADAR1 binds Dicer [2]. It helps RNAi."


def test_tidy_drops_a_sentence_cut_off_by_the_token_limit() -> None:
    assert tidy("It is rare [1]. The prevalence is higher", cut_unfinished=True) == "It is rare [1]."
    assert tidy("It is rare. [1]", cut_unfinished=True) == "It is rare. [1]"
    assert tidy("Only one unfinished", cut_unfinished=True) == "Only one unfinished"
    assert (
        tidy("1. Panels make power. 2. Wind helps. 3.", cut_unfinished=False)
        == "1. Panels make power. 2. Wind helps."
    )
    assert (
        tidy("Kept as is\nwhen nothing changes", cut_unfinished=False) == "Kept as is\nwhen nothing changes"
    )
