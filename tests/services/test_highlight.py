"""Highlights: the fast candidate scan marks exactly the words the word-by-word definition marks."""

from __future__ import annotations

import html
import random
import re

import pytest

from ragworks.ingest.analysis import Analyzer
from ragworks.services.highlight import SNIPPET_CHARS, Highlighter, highlight

_WORD = re.compile(r"[\w][\w'-]*", re.UNICODE)


def reference(text: str, query_tokens: set[str], analyzer: Analyzer, snippets: int = 2) -> list[str]:
    """The definition (the implementation before the fast scan): visit every word of the text."""
    if not query_tokens:
        return []
    prefixes = tuple({t[:3] if len(t) >= 4 and t.isascii() else t[:2] for t in query_tokens})
    words = [
        w
        for w in _WORD.finditer(text)
        if any(part.startswith(prefixes) for part in re.split(r"['-]+", w.group(0).lower()))
    ]
    unique = sorted({w.group(0) for w in words})
    analysed = dict(zip(unique, analyzer.tokens_many(unique), strict=True))
    matches = [w for w in words if query_tokens.intersection(analysed[w.group(0)])]
    result: list[str] = []
    covered_until = -1
    for match in matches:
        if match.start() < covered_until or len(result) >= snippets:
            continue
        start = max(0, match.start() - SNIPPET_CHARS // 3)
        end = min(len(text), start + SNIPPET_CHARS)
        window = [m for m in matches if start <= m.start() and m.end() <= end]
        parts = ["…" if start > 0 else ""]
        cursor = start
        for m in window:
            parts += [html.escape(text[cursor : m.start()]), f"<em>{html.escape(m.group(0))}</em>"]
            cursor = m.end()
        parts += [html.escape(text[cursor:end]), "…" if end < len(text) else ""]
        result.append("".join(parts).replace("\n", " "))
        covered_until = end
    return result


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    model = Analyzer()
    model.start()
    return model


TRICKY = [
    "Running runners ran; the RUNNER's run-time was 3.5 s (covid-19, COVID19).",
    "'-quoted' --dashed -'mixed x-ray Co-Op a'-b _under __init__ don't",
    "İstanbul İİ ǅungla ΣΊΣΥΦΟΣ σίσυφος straße STRASSE Æsir",
    "서울 지사의 업무는 고객 상담과 계약 관리입니다. Seoul branch COVID-19 관리",
    "tab\tseparated\nnew line <b>markup</b> & ampersands 1,000 u.s.a e.g.",
]
QUERIES = [
    "running runner",
    "covid-19 ray op under init",
    "istanbul dzungla sisyphus strasse aesir",
    "지사가 하는 업무 관리 covid",
    "markup ampersand usa 1000",
    "",
]


@pytest.mark.parametrize("text", TRICKY)
@pytest.mark.parametrize("query", QUERIES)
def test_tricky_texts_match_the_definition(analyzer: Analyzer, text: str, query: str) -> None:
    tokens = set(analyzer.tokens(query))

    assert highlight(text, tokens, analyzer) == reference(text, tokens, analyzer)
    assert (
        Highlighter(analyzer).highlight_many([text, text], tokens) == [reference(text, tokens, analyzer)] * 2
    )


def test_random_texts_match_the_definition(analyzer: Analyzer) -> None:
    rng = random.Random(7)
    vocabulary = [
        "cell", "Cells", "CELLULAR", "protein", "pro-tein", "pre-treatment", "it's", "DNA", "dna-binding",
        "x", "α-helix", "β", "İzmir", "naïve", "co-operate", "'tis", "-", "'", "--", "3.5", "1,000", "_x",
        "지사", "지사의", "업무를", "e.g.", "u.s.", "covid-19", "Covid19", "running", "RAN",
    ]  # fmt: skip
    separators = [" ", " ", " ", ", ", ". ", "-", "'", "\n", " (", ") ", "/", "—", ""]
    highlighter = Highlighter(analyzer, cache_size=50)
    for _ in range(300):
        text = "".join(rng.choice(vocabulary) + rng.choice(separators) for _ in range(rng.randint(1, 60)))
        query = " ".join(rng.sample(vocabulary, rng.randint(1, 4)))
        tokens = set(analyzer.tokens(query))
        assert highlighter.highlight(text, tokens) == reference(text, tokens, analyzer), (text, query)


def test_highlight_many_is_highlight_for_each_text(analyzer: Analyzer) -> None:
    tokens = set(analyzer.tokens("runner covid 관리"))
    highlighter = Highlighter(analyzer)

    assert highlighter.highlight_many(TRICKY, tokens) == [highlight(t, tokens, analyzer) for t in TRICKY]


def test_the_word_cache_stays_bounded(analyzer: Analyzer) -> None:
    highlighter = Highlighter(analyzer, cache_size=10)
    text = " ".join(f"cell{i}" for i in range(100))

    marked = highlighter.highlight(text, {"cell5"}, snippets=1)

    assert marked and "<em>cell5</em>" in marked[0]
    assert len(highlighter._terms) <= 10


def test_word_characters_are_what_the_scan_assumes() -> None:
    """The scan tests word characters with ``str.isalnum()`` or ``_``: exactly ``\\w`` of ``re``."""
    word = re.compile(r"\w")
    differ = [c for c in map(chr, range(0x110000)) if bool(word.match(c)) != (c.isalnum() or c == "_")]

    assert differ == []


def test_parts_of_compounds_and_changed_stems_are_marked(analyzer: Analyzer) -> None:
    text = "Patients in the active-treatment group were using monocyte-derived cells."
    tokens = set(analyzer.tokens("treatment use derived cell"))

    (marked,) = Highlighter(analyzer).highlight(text, tokens)

    for word in ("active-treatment", "using", "monocyte-derived", "cells"):
        assert f"<em>{word}</em>" in marked
    assert "<em>Patients</em>" not in marked
