"""HTML: main content through trafilatura (no menus, navigation or footers), with a plain-text fallback."""

from __future__ import annotations

import re
from typing import Any

# lxml ships no type information and pyproject's list of untyped modules does not name it yet.
import lxml.html
import trafilatura
from lxml import etree

from ragworks.ingest.parsers.base import CorruptDocument, DocumentTooComplex, ParsedDocument, ParseLimits
from ragworks.ingest.parsers.encoding import decode_text
from ragworks.ingest.parsers.safety import BlockCollector

_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_HEADING_REND = re.compile(r"^h([1-6])$")
# Boilerplate containers dropped by the fallback too, so both paths agree on what "content" is.
_BOILERPLATE = ("script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form")
_PRUNE_XPATH = ["//nav", "//footer", "//aside", "//*[@role='navigation']", "//*[@role='contentinfo']"]
_FALLBACK_BLOCKS = (
    *("p", "div", "section", "article", "main", "li", "tr", "br", "pre", "blockquote", "table"),
    *("ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6"),
)


def _flat(element: Any) -> str:
    return " ".join("".join(element.itertext()).split())


def _add_trafilatura_element(blocks: BlockCollector, element: Any) -> None:
    """Map one child of trafilatura's XML body (head, p, list, table, code, ...) to a block."""
    tag = element.tag
    if tag == "head":
        level = _HEADING_REND.match(element.get("rend", ""))
        blocks.add(_flat(element), "heading", level=int(level.group(1)) if level else 1)
    elif tag == "list":
        blocks.add("\n".join(f"- {_flat(item)}" for item in element.iter("item") if _flat(item)), "list")
    elif tag == "table":
        rows = (" | ".join(_flat(cell) for cell in row.iter("cell")) for row in element.iter("row"))
        blocks.add("\n".join(row for row in rows if row.strip(" |")), "table")
    elif tag == "code":
        blocks.add("".join(element.itertext()), "code")
    else:
        blocks.add(_flat(element))


def _main_content(html: str, blocks: BlockCollector) -> None:
    extracted = trafilatura.bare_extraction(
        html,
        include_comments=False,
        include_tables=True,
        include_images=False,
        include_links=False,
        # On short pages trafilatura falls back to a baseline that keeps menus; pruning them first keeps
        # navigation out of every path.
        prune_xpath=_PRUNE_XPATH,
    )
    body = getattr(extracted, "body", None)
    if body is not None:
        for element in body:
            _add_trafilatura_element(blocks, element)


def _body_text(tree: Any, blocks: BlockCollector) -> None:
    """Fallback: the visible text of <body>, one paragraph per block-level element."""
    body = tree.find(".//body")
    if body is None:
        body = tree
    for element in list(body.iter(*_BOILERPLATE)):
        element.drop_tree()
    for element in body.iter(*_FALLBACK_BLOCKS):
        element.text = "\n" + (element.text or "")
        element.tail = "\n" + (element.tail or "")
    for line in body.text_content().split("\n"):
        blocks.add(" ".join(line.split()))


def _refuse_beyond_limits(parser: Any) -> None:
    """Raise DocumentTooComplex when libxml2 stopped at one of its safety limits.

    libxml2 stops reading an HTML page that nests elements more than 256 deep or holds a text or
    attribute value over 10 MB (limits that keep hostile pages bounded) without raising: the rest of the
    page is silently missing, so the page is refused with the reason instead.
    """
    for entry in parser.error_log:
        if entry.type_name == "ERR_RESOURCE_LIMIT":
            raise DocumentTooComplex(
                "the HTML is beyond the parser's limits (elements nested more than 256 deep, or a text "
                f"or attribute value over 10 MB): {entry.message.strip()}"
            )


def _title(tree: Any) -> str | None:
    title = " ".join((tree.findtext(".//title") or "").split())
    return title or None


class HtmlParser:
    """Parser for HTML pages."""

    format = "html"
    mime = "text/html"

    def parse(self, data: bytes, limits: ParseLimits) -> ParsedDocument:
        """Extract the main content's headings, paragraphs, lists and tables."""
        decoded = decode_text(data)
        # lxml refuses str input that still carries an encoding declaration; the text is already decoded.
        html = _XML_DECLARATION.sub("", decoded.text, count=1)
        parser = lxml.html.HTMLParser()
        try:
            tree = lxml.html.document_fromstring(html, parser=parser)
        except (etree.ParserError, ValueError) as exc:
            raise CorruptDocument(f"unreadable HTML: {exc}") from exc
        _refuse_beyond_limits(parser)
        blocks = BlockCollector(limits)
        _main_content(html, blocks)
        if not blocks.blocks:
            _body_text(tree, blocks)
        return ParsedDocument(
            format=self.format,
            mime=self.mime,
            blocks=blocks.blocks,
            title=_title(tree) or blocks.first_heading(),
            encoding=decoded.encoding,
        )
