"""What every parser produces: blocks of text with their page and structural kind."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from ragworks.errors import PayloadTooLarge, UnprocessableDocument, UnsupportedMediaType

BlockKind = Literal["heading", "paragraph", "table", "list", "code"]


@dataclass(frozen=True, slots=True)
class Block:
    """A structural unit of a document: a heading, a paragraph, a table rendered as text, ..."""

    text: str
    kind: BlockKind = "paragraph"
    page: int | None = None  # 1-based page number when the format knows pages
    level: int = 0  # heading level (1 = top) for headings, else 0


@dataclass(slots=True)
class ParsedDocument:
    """The text of one uploaded file, in reading order."""

    format: str  # short format name: pdf, docx, hwp, hwpx, html, markdown, text, json, jsonl
    mime: str
    blocks: list[Block] = field(default_factory=list)
    title: str | None = None
    page_count: int | None = None
    encoding: str | None = None  # detected text encoding for text formats
    records: list[dict[str, object]] | None = None  # JSON/JSONL: one record per document, when given

    @property
    def text(self) -> str:
        """The whole text; blocks joined by blank lines (offsets of chunks refer to this)."""
        return "\n\n".join(b.text for b in self.blocks)


@dataclass(frozen=True, slots=True)
class ParseLimits:
    """Safety limits applied while parsing untrusted files."""

    max_pages: int = 2000
    max_uncompressed_bytes: int = 200 * 1024 * 1024  # sum over all members of a zip container
    max_compression_ratio: float = 100.0  # per member of a zip container
    max_text_chars: int = 20_000_000
    timeout_s: float = 120.0


class Parser(Protocol):
    """Turns the bytes of one file format into a ParsedDocument.

    Raises:
        UnprocessableDocument: the file is corrupt, encrypted or exceeds a limit inside.
    """

    format: str
    mime: str

    def parse(self, data: bytes, limits: ParseLimits) -> ParsedDocument: ...


class EncryptedDocument(UnprocessableDocument):
    code = "encrypted_document"


class CorruptDocument(UnprocessableDocument):
    code = "corrupt_document"


class DocumentTooComplex(UnprocessableDocument):
    """Too many pages, a decompression bomb, too much text, or parsing ran past its time limit."""

    code = "document_limit_exceeded"


class EmptyDocument(UnprocessableDocument):
    code = "empty_document"


__all__ = [
    "Block",
    "CorruptDocument",
    "DocumentTooComplex",
    "EmptyDocument",
    "EncryptedDocument",
    "ParseLimits",
    "ParsedDocument",
    "Parser",
    "PayloadTooLarge",
    "UnsupportedMediaType",
]
