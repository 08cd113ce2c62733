"""Markdown keeps its structure: heading levels, code, lists and tables become typed blocks."""

from __future__ import annotations

from ragworks.ingest.parsers import ParseLimits, parse_document

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
