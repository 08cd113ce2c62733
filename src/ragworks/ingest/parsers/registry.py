"""The one place that maps a detected format to the parser that reads it."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from ragworks.ingest.parsers.base import Parser
from ragworks.ingest.parsers.detect import DocumentFormat
from ragworks.ingest.parsers.docx import DocxParser
from ragworks.ingest.parsers.html import HtmlParser
from ragworks.ingest.parsers.hwp import HwpParser
from ragworks.ingest.parsers.jsonl import JsonParser
from ragworks.ingest.parsers.markdown import MarkdownParser
from ragworks.ingest.parsers.pdf import PdfParser
from ragworks.ingest.parsers.text import TextParser

PARSERS: Final[Mapping[DocumentFormat, Parser]] = MappingProxyType(
    {
        "pdf": PdfParser(),
        "docx": DocxParser(),
        "hwp": HwpParser("hwp"),
        "hwpx": HwpParser("hwpx"),
        "html": HtmlParser(),
        "markdown": MarkdownParser(),
        "text": TextParser(),
        "json": JsonParser("json"),
        "jsonl": JsonParser("jsonl"),
    }
)


def parser_for(format: DocumentFormat) -> Parser:
    """The registered parser for a detected format."""
    return PARSERS[format]
