"""Markdown keeps its structure: heading levels, code, lists and tables become typed blocks."""

from __future__ import annotations

import pytest

from ragworks.ingest.parsers import ParseLimits, parse_document
from ragworks.ingest.parsers.markdown import _atx_heading

DOC = """---
layout: post
---
# 검색 시스템

Intro paragraph that is
wrapped over two lines with a [link](https://example.com).

## Install

```bash
pip install ragworks
```

- first item
- second item

| Name | Value |
|------|------:|
| a    | 1     |
| b \\| c | 2 |

Setext heading
--------------

Last words.
"""


def _blocks(limits: ParseLimits) -> list[tuple[str, int, str]]:
    document = parse_document(DOC.encode(), "guide.md", limits)
    return [(b.kind, b.level, b.text) for b in document.blocks]


def test_headings_carry_their_level(limits: ParseLimits) -> None:
    headings = [(level, text) for kind, level, text in _blocks(limits) if kind == "heading"]
    assert headings == [(1, "검색 시스템"), (2, "Install"), (2, "Setext heading")]


def test_paragraph_lines_are_joined_and_links_reduced_to_text(limits: ParseLimits) -> None:
    assert ("paragraph", 0, "Intro paragraph that is wrapped over two lines with a link.") in _blocks(limits)


def test_fenced_code_is_one_code_block(limits: ParseLimits) -> None:
    assert ("code", 0, "pip install ragworks") in _blocks(limits)


def test_list_items_form_one_list_block(limits: ParseLimits) -> None:
    assert ("list", 0, "- first item\n- second item") in _blocks(limits)


def test_pipe_table_becomes_rows_without_separator(limits: ParseLimits) -> None:
    assert ("table", 0, "Name | Value\na | 1\nb | c | 2") in _blocks(limits)


def test_front_matter_is_dropped_and_title_is_first_h1(limits: ParseLimits) -> None:
    document = parse_document(DOC.encode(), "guide.md", limits)
    assert "layout" not in document.text
    assert document.title == "검색 시스템"
    assert document.blocks[-1].text == "Last words."


# Pathological Markdown: each of these took from seconds to hours with the earlier patterns.


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"[a](" * 100_000, "[a](" * 100_000),
        (b"![a](" * 100_000, "![a](" * 100_000),
        (b"[" * 200_000 + b"](x", "[" * 200_000 + "](x"),
        (b"see [the docs](https://x.org/Foo_(bar)) now", "see the docs now"),
    ],
    ids=["unclosed-links", "unclosed-images", "open-brackets", "parentheses-in-target"],
)
def test_links_are_reduced_in_linear_time(data: bytes, expected: str, limits: ParseLimits) -> None:
    assert parse_document(data, "links.md", limits).text == expected


@pytest.mark.timeout(10)
def test_heading_with_a_long_run_of_spaces_is_read_in_linear_time(limits: ParseLimits) -> None:
    document = parse_document(b"# a" + b" " * 200_000 + b"b ##", "heading.md", limits)
    assert [(b.kind, b.text[0], b.text[-1]) for b in document.blocks] == [("heading", "a", "b")]


@pytest.mark.timeout(10)
def test_table_separator_with_a_long_run_of_spaces_is_read_in_linear_time(limits: ParseLimits) -> None:
    data = b"a | b\n-" + b" " * 200_000 + b"x\n"
    assert parse_document(data, "table.md", limits).blocks[0].kind == "paragraph"


@pytest.mark.parametrize(
    ("line", "heading"),
    [
        ("# Title ##", (1, "Title")),
        ("## C# #", (2, "C#")),
        ("# Title#", (1, "Title#")),
        ("#", (1, "")),
        ("   ### Deep", (3, "Deep")),
    ],
)
def test_atx_closing_hashes_are_cut_only_after_a_space(line: str, heading: tuple[int, str]) -> None:
    assert _atx_heading(line) == heading


@pytest.mark.parametrize("line", ["#hashtag", "####### seven", "text # not a heading"])
def test_lines_that_are_not_atx_headings(line: str) -> None:
    assert _atx_heading(line) is None
