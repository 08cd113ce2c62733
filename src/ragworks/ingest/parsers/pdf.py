"""PDF through pypdf: one block per paragraph per page, with 1-based page numbers."""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from pypdf import PasswordType, PdfReader, apply_configuration
from pypdf.errors import DependencyError, LimitReachedError, PdfReadError, PdfReadWarning
from pypdf.generic import DictionaryObject

from ragworks.ingest.parsers.base import (
    CorruptDocument,
    DocumentTooComplex,
    EncryptedDocument,
    ParsedDocument,
    ParseLimits,
)
from ragworks.ingest.parsers.safety import BlockCollector

# Paragraph breaks are inferred from vertical gaps: a gap well above the page's usual line pitch, or above
# twice the font size, separates paragraphs (pypdf itself emits only line breaks).
_PITCH_FACTOR = 1.3
_FONT_FACTOR = 2.0
# Page tree nodes visited per allowed page: each page is one, the intermediate nodes above them are a few
# more in any real file. pypdf stops walking past the bound, so a tree that hides 100,000 pages behind a
# small /Count is not walked to the end (15 s) before the page limit applies.
_TREE_ENTRIES_PER_PAGE = 2


@dataclass(slots=True)
class _Line:
    text: str = ""
    y: float | None = None  # baseline in page space; None until a positioned fragment arrives
    size: float = 0.0  # effective font size in page space
    after_blank: bool = False  # pypdf emitted an empty line before this one


def _page_lines(page: Any) -> list[_Line]:
    """The page's text lines, as pypdf extracts them, with their vertical position and font size."""
    lines = [_Line()]

    def visit(text: str, cm: list[float], tm: list[float], _font: Any, font_size: float) -> None:
        for index, part in enumerate(text.split("\n")):
            if index:
                lines.append(_Line(after_blank=not lines[-1].text.strip()))
            line = lines[-1]
            if line.y is None and part.strip():
                # Combined text-space-to-page matrix (tm x cm): f gives the baseline, column 2 the scale.
                line.y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
                line.size = abs(font_size) * math.hypot(
                    tm[2] * cm[0] + tm[3] * cm[2], tm[2] * cm[1] + tm[3] * cm[3]
                )
            line.text += part

    page.extract_text(visitor_text=visit)
    return [line for line in lines if line.text.strip()]


def _is_break(previous: _Line, line: _Line, pitch: float | None) -> bool:
    if line.after_blank:
        return True
    if previous.y is None or line.y is None:
        return False
    gap = previous.y - line.y
    if gap < -max(previous.size, 1.0):  # moved up the page: the next column or a new text frame
        return True
    return (pitch is not None and gap > _PITCH_FACTOR * pitch) or gap > _FONT_FACTOR * max(previous.size, 1.0)


def page_paragraphs(page: Any) -> list[str]:
    """Group a page's lines into paragraphs by the vertical gaps between them."""
    lines = _page_lines(page)
    gaps = [
        a.y - b.y
        for a, b in pairwise(lines)
        if a.y is not None and b.y is not None and a.y - b.y > 0.5 * max(a.size, 1.0)
    ]
    pitch = min(gaps) if gaps else None
    paragraphs: list[list[str]] = []
    for index, line in enumerate(lines):
        if not paragraphs or _is_break(lines[index - 1], line, pitch):
            paragraphs.append([])
        paragraphs[-1].append(line.text.strip())
    return ["\n".join(p) for p in paragraphs]


def _open(data: bytes) -> PdfReader:
    reader = PdfReader(io.BytesIO(data), strict=False)
    if reader.is_encrypted:
        # Many PDFs are "encrypted" only to set permissions, with an empty user password.
        try:
            opened = reader.decrypt("")
        except DependencyError as exc:
            raise EncryptedDocument(f"encrypted PDF with an unsupported cipher: {exc}") from exc
        if opened == PasswordType.NOT_DECRYPTED:
            raise EncryptedDocument("the PDF is password-protected")
    return reader


def _check_declared_pages(reader: PdfReader, limits: ParseLimits) -> None:
    """Refuse a PDF whose page tree declares more than ``limits.max_pages`` pages, before walking it."""
    try:
        pages = reader.root_object["/Pages"].get_object()
        declared = pages["/Count"] if isinstance(pages, DictionaryObject) else None
    except (PdfReadError, KeyError, TypeError, ValueError):  # no or a damaged count: the walk decides
        return
    if isinstance(declared, int) and declared > limits.max_pages:
        raise DocumentTooComplex(
            f"the PDF has {declared} pages (limit {limits.max_pages})",
            details={"pages": declared, "max_pages": limits.max_pages},
        )


def _title(reader: PdfReader) -> str | None:
    try:
        metadata = reader.metadata
        title = metadata.title if metadata is not None else None
    except (PdfReadError, KeyError, TypeError, ValueError):  # damaged Info dictionaries are common
        return None
    if not isinstance(title, str):
        return None
    return title.strip() or None


class PdfParser:
    """Parser for PDF files."""

    format = "pdf"
    mime = "application/pdf"

    def parse(self, data: bytes, limits: ParseLimits) -> ParsedDocument:
        """Extract the text of every page, split into paragraphs."""
        # pypdf reports recoverable damage as PdfReadWarning; those files still yield text, so the warnings
        # are diagnostics, not failures.
        tree_entries = _TREE_ENTRIES_PER_PAGE * limits.max_pages + 100
        with warnings.catch_warnings(), apply_configuration(page_tree_maximum_entries=tree_entries):
            warnings.simplefilter("ignore", PdfReadWarning)
            try:
                return self._parse(data, limits)
            except LimitReachedError as exc:
                raise DocumentTooComplex(f"PDF exceeds a parser limit: {exc}") from exc
            except PdfReadError as exc:
                raise CorruptDocument(f"damaged PDF: {exc}") from exc

    def _parse(self, data: bytes, limits: ParseLimits) -> ParsedDocument:
        reader = _open(data)
        _check_declared_pages(reader, limits)
        page_count = len(reader.pages)  # walks the page tree, within _TREE_ENTRIES_PER_PAGE per page
        if page_count > limits.max_pages:
            raise DocumentTooComplex(
                f"the PDF has {page_count} pages (limit {limits.max_pages})",
                details={"pages": page_count, "max_pages": limits.max_pages},
            )
        blocks = BlockCollector(limits)
        for number, page in enumerate(reader.pages, start=1):
            for paragraph in page_paragraphs(page):
                blocks.add(paragraph, page=number)
        return ParsedDocument(
            format=self.format,
            mime=self.mime,
            blocks=blocks.blocks,
            title=_title(reader),
            page_count=page_count,
        )
