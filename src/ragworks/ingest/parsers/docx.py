"""DOCX through python-docx: headings, paragraphs, lists and tables in document order."""

from __future__ import annotations

import io
import re
from typing import Any

import docx
from docx.opc.exceptions import PackageNotFoundError
from docx.table import Table
from docx.text.paragraph import Paragraph

from ragworks.ingest.parsers.base import CorruptDocument, ParsedDocument, ParseLimits
from ragworks.ingest.parsers.safety import BlockCollector, open_zip
from ragworks.ingest.parsers.xml_guard import refuse_dtds

_HEADING_STYLE = re.compile(r"^heading\s*([1-9])$", re.IGNORECASE)


def _style_name(paragraph: Any) -> str:
    style = paragraph.style
    return str(style.name) if style is not None and style.name else ""


def _is_list_item(paragraph: Any) -> bool:
    properties = paragraph._p.pPr  # numbering properties are not exposed by python-docx's public API
    return _style_name(paragraph).lower().startswith("list") or (
        properties is not None and properties.numPr is not None
    )


def _table_text(table: Any) -> str:
    """Rows as " | "-joined cells, one line per row."""
    lines: list[str] = []
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            # A merged cell is returned once per grid column it spans; keep it once.
            if previous is not None and cell._tc is previous._tc:
                continue
            previous = cell
            cells.append(" ".join(cell.text.split()))
        if any(cells):
            lines.append(" | ".join(cells))
    return "\n".join(lines)


class DocxParser:
    """Parser for Word 2007+ documents."""

    format = "docx"
    mime = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

    def parse(self, data: bytes, limits: ParseLimits) -> ParsedDocument:
        """Walk the body in order, turning paragraphs and tables into blocks."""
        with open_zip(data, limits) as archive:  # the bomb checks run before python-docx inflates a part
            refuse_dtds(archive, "DOCX")
        try:
            document = docx.Document(io.BytesIO(data))
        except PackageNotFoundError as exc:
            raise CorruptDocument(f"not a readable DOCX package: {exc}") from exc
        blocks = BlockCollector(limits)
        list_items: list[str] = []
        title_paragraph: str | None = None
        for item in document.iter_inner_content():
            is_list = isinstance(item, Paragraph) and _is_list_item(item)
            if list_items and not is_list:
                blocks.add("\n".join(list_items), "list")
                list_items = []
            if isinstance(item, Table):
                blocks.add(_table_text(item), "table")
                continue
            style = _style_name(item)
            if is_list:
                if item.text.strip():
                    list_items.append(item.text.strip())
            elif heading := _HEADING_STYLE.match(style):
                blocks.add(item.text, "heading", level=int(heading.group(1)))
            elif style.lower() == "title":
                title_paragraph = title_paragraph or item.text.strip() or None
                blocks.add(item.text, "heading", level=1)
            else:
                blocks.add(item.text)
        blocks.add("\n".join(list_items), "list")
        core_title = (document.core_properties.title or "").strip()
        return ParsedDocument(
            format=self.format,
            mime=self.mime,
            blocks=blocks.blocks,
            title=core_title or title_paragraph or blocks.first_heading(),
        )
