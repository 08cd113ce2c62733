"""Markdown (CommonMark/GFM subset): headings, paragraphs, fenced code, lists and pipe tables."""

from __future__ import annotations

import re

from ragworks.ingest.parsers.base import ParsedDocument, ParseLimits
from ragworks.ingest.parsers.encoding import decode_text, normalize_newlines
from ragworks.ingest.parsers.safety import BlockCollector

_ATX = re.compile(r" {0,3}(#{1,6})(?=[ \t]|$)")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_RULE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_LIST_ITEM = re.compile(r"^ {0,3}(?:[-*+]|\d{1,9}[.)])(?:[ \t]+|$)")
# Possessive runs: giving back a space or a dash never helps the match, and trying it made a dash
# followed by 20,000 spaces take seconds.
_TABLE_SEPARATOR = re.compile(r"^ {0,3}\|?[ \t]*+:?-++:?[ \t]*+(?:\|[ \t]*+:?-++:?[ \t]*+)*+\|?[ \t]*+$")
_QUOTE = re.compile(r"^ {0,3}> ?")
# Neither a link's text nor its target may hold a bracket (the target may hold one pair of parentheses,
# as Wikipedia's do): the scan for the closing "]" or ")" then stops at the next link's "[", so "[a]("
# repeated 100,000 times is read in one pass, not in one pass per "[" (which took minutes).
_TARGET = r"\((?:[^()\[\]]|\([^()\[\]]*\))*+\)"
_IMAGE = re.compile(r"!\[([^\[\]]*)\]" + _TARGET)
_LINK = re.compile(r"\[([^\[\]]+)\]" + _TARGET)
_CELL_SPLIT = re.compile(r"(?<!\\)\|")


def _inline(text: str) -> str:
    """Replace images and links by their visible text; the URLs add nothing to retrieval."""
    return _LINK.sub(r"\1", _IMAGE.sub(r"\1", text))


def table_cells(line: str) -> list[str]:
    """The cells of one pipe-table row, without the empty cells made by its border pipes."""
    cells = [cell.strip().replace("\\|", "|") for cell in _CELL_SPLIT.split(line.strip())]
    if cells and not cells[0]:
        cells = cells[1:]
    if cells and not cells[-1]:
        cells = cells[:-1]
    return cells


def _atx_heading(line: str) -> tuple[int, str] | None:
    """(level, text) of an ATX heading line ("## Title ##"), else None.

    The closing run of "#" is cut in Python: a regex for it rescanned every run of spaces inside the
    heading once per character, minutes for one long line.
    """
    marker = _ATX.match(line)
    if marker is None:
        return None
    text = line[marker.end() :].strip(" \t")
    unclosed = text.rstrip("#")
    if not unclosed or unclosed[-1] in " \t":  # closing hashes count only after a space
        text = unclosed.rstrip(" \t")
    return len(marker.group(1)), text


def _table_row(line: str) -> str:
    return " | ".join(_inline(cell) for cell in table_cells(line))


def _starts_other_block(line: str) -> bool:
    """Whether an unindented line ends a list: a heading, a code fence or a rule."""
    unindented = not line.startswith((" ", "\t"))
    return unindented and bool(_atx_heading(line) or _FENCE.match(line) or _RULE.match(line))


def _skip_front_matter(lines: list[str]) -> list[str]:
    """Drop a leading YAML front-matter block (--- ... ---), which is metadata, not content."""
    if lines and lines[0].strip() == "---":
        for end in range(1, len(lines)):
            if lines[end].strip() in ("---", "..."):
                return lines[end + 1 :]
    return lines


class _MarkdownReader:
    """Line-by-line block reader; each _read_* method consumes the lines of one block."""

    def __init__(self, text: str, blocks: BlockCollector) -> None:
        self.lines = _skip_front_matter(normalize_newlines(text).split("\n"))
        self.blocks = blocks
        self.paragraph: list[str] = []
        self.i = 0

    def flush(self) -> None:
        if self.paragraph:
            self.blocks.add(_inline(" ".join(self.paragraph)))
            self.paragraph = []

    def read_fence(self, fence: str) -> None:
        self.flush()
        marker = fence.strip()[0] * len(fence.strip())
        code: list[str] = []
        self.i += 1
        while self.i < len(self.lines) and not self.lines[self.i].strip().startswith(marker):
            code.append(self.lines[self.i])
            self.i += 1
        self.i += 1  # the closing fence (or the end of the file)
        self.blocks.add("\n".join(code), "code")

    def read_table(self) -> None:
        self.flush()
        rows = [_table_row(self.lines[self.i])]
        self.i += 2  # header row and separator row
        while self.i < len(self.lines) and "|" in self.lines[self.i] and self.lines[self.i].strip():
            rows.append(_table_row(self.lines[self.i]))
            self.i += 1
        self.blocks.add("\n".join(rows), "table")

    def read_list(self) -> None:
        self.flush()
        items: list[str] = []
        while self.i < len(self.lines):
            line = self.lines[self.i]
            following = self.lines[self.i + 1] if self.i + 1 < len(self.lines) else ""
            if not line.strip():
                if not (_LIST_ITEM.match(following) or following.startswith(("  ", "\t"))):
                    break
            elif items and not _LIST_ITEM.match(line) and _starts_other_block(line):
                break
            if line.strip():
                items.append(_inline(line.rstrip()))
            self.i += 1
        self.blocks.add("\n".join(items), "list")

    def read(self) -> None:
        while self.i < len(self.lines):
            line = self.lines[self.i]
            following = self.lines[self.i + 1] if self.i + 1 < len(self.lines) else ""
            if fence := _FENCE.match(line):
                self.read_fence(fence.group(1))
            elif not line.strip():
                self.flush()
                self.i += 1
            elif heading := _atx_heading(line):
                self.flush()
                self.blocks.add(_inline(heading[1]), "heading", level=heading[0])
                self.i += 1
            elif self.paragraph and (underline := _SETEXT.match(line)):
                text, self.paragraph = " ".join(self.paragraph), []
                self.blocks.add(_inline(text), "heading", level=1 if underline.group(1)[0] == "=" else 2)
                self.i += 1
            elif _RULE.match(line):
                self.flush()
                self.i += 1
            elif "|" in line and _TABLE_SEPARATOR.match(following) and "-" in following:
                self.read_table()
            elif _LIST_ITEM.match(line):
                self.read_list()
            else:
                self.paragraph.append(_QUOTE.sub("", line).strip())
                self.i += 1
        self.flush()


class MarkdownParser:
    """Parser for Markdown files."""

    format = "markdown"
    mime = "text/markdown"

    def parse(self, data: bytes, limits: ParseLimits) -> ParsedDocument:
        """Split Markdown into heading, paragraph, code, list and table blocks."""
        decoded = decode_text(data)
        blocks = BlockCollector(limits)
        _MarkdownReader(decoded.text, blocks).read()
        top = next((b.text for b in blocks.blocks if b.kind == "heading" and b.level == 1), None)
        return ParsedDocument(
            format=self.format,
            mime=self.mime,
            blocks=blocks.blocks,
            title=top or blocks.first_heading(),
            encoding=decoded.encoding,
        )
