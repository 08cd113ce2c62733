"""HTML: the article's headings and paragraphs, without navigation, footers or scripts."""

from __future__ import annotations

import pytest

from ragworks.ingest.parsers import DocumentTooComplex, ParseLimits, parse_document

PAGE = """<!DOCTYPE html>
<html lang="ko"><head><meta charset="utf-8"><title>태양광 발전 | Example News</title>
<script>var tracking = "do not index me";</script></head>
<body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/about">About us</a></li><li>Subscribe now</li></ul></nav>
<main><article>
<h1>Solar energy in Korea</h1>
<p>Solar power capacity in South Korea has grown quickly over the past decade, driven by government
incentives and falling panel prices across Asia.</p>
<h2>Policy background</h2>
<p>The renewable portfolio standard obliges large utilities to source a growing share of their electricity
from renewable sources, and solar has been the main beneficiary of this policy.</p>
<p>태양광 발전은 한국에서 빠르게 성장하고 있습니다. 정부 지원과 패널 가격 하락이 주된 원인입니다.</p>
</article></main>
<footer><p>Copyright 2024 Example Corp. All rights reserved.</p></footer>
</body></html>
"""


def test_main_content_keeps_headings_and_paragraphs(limits: ParseLimits) -> None:
    document = parse_document(PAGE.encode(), "article.html", limits)
    assert document.format == "html"
    headings = [(b.level, b.text) for b in document.blocks if b.kind == "heading"]
    assert headings == [(1, "Solar energy in Korea"), (2, "Policy background")]
    assert "태양광 발전은 한국에서 빠르게 성장하고 있습니다." in document.text


def test_navigation_footer_and_scripts_are_dropped(limits: ParseLimits) -> None:
    text = parse_document(PAGE.encode(), "article.html", limits).text
    for boilerplate in ("About us", "Subscribe now", "Copyright 2024", "do not index me"):
        assert boilerplate not in text


def test_title_comes_from_title_element(limits: ParseLimits) -> None:
    assert parse_document(PAGE.encode(), None, limits).title == "태양광 발전 | Example News"


def test_tiny_page_keeps_text_but_not_its_menu(limits: ParseLimits) -> None:
    page = b"<html><body><nav>Menu</nav><div>Short note.</div><p>Second line.</p></body></html>"
    document = parse_document(page, "note.html", limits)
    assert document.text == "Short note. Second line."


def test_html_table_rows_are_kept(limits: ParseLimits) -> None:
    page = b"<html><body><table><tr><td>Region</td><td>Q1</td></tr><tr><td>Seoul</td><td>10</td></tr></table>"
    document = parse_document(page, None, limits)
    assert [(b.kind, b.text) for b in document.blocks] == [("table", "Region | Q1\nSeoul | 10")]


def test_declared_legacy_charset_is_honoured(limits: ParseLimits) -> None:
    page = PAGE.replace('charset="utf-8"', 'charset="euc-kr"').encode("euc-kr")
    document = parse_document(page, None, limits)
    assert document.encoding == "euc_kr"
    assert "정부 지원과 패널 가격 하락" in document.text


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "page",
    [
        b"<html><body>" + b"<div>" * 100_000 + b"deep text" + b"</div>" * 100_000 + b"</body></html>",
        b"<html><body><p>before</p>" + b"<div>" * 300 + b"deep text" + b"</div>" * 300 + b"</body></html>",
        b"<html><body><p title='" + b"a" * (11 << 20) + b"'>hello</p></body></html>",
    ],
    ids=["100k-levels", "300-levels", "11mb-attribute"],
)
def test_page_beyond_the_html_parser_limits_is_refused(page: bytes, limits: ParseLimits) -> None:
    # libxml2 stops reading there and would silently drop the rest of the page.
    with pytest.raises(DocumentTooComplex, match="beyond the parser's limits") as caught:
        parse_document(page, "hostile.html", limits)
    assert caught.value.code == "document_limit_exceeded"


def test_nesting_within_the_limit_is_read(limits: ParseLimits) -> None:
    page = (
        b"<html><body>"
        + b"<div>" * 100
        + b"<p>Nested text survives.</p>"
        + b"</div>" * 100
        + b"</body></html>"
    )
    assert parse_document(page, "nested.html", limits).text == "Nested text survives."
