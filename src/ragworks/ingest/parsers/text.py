"""Plain text in any common encoding, split into paragraphs on blank lines."""

from __future__ import annotations

from ragworks.ingest.parsers.base import ParsedDocument, ParseLimits
from ragworks.ingest.parsers.encoding import decode_text, split_paragraphs
from ragworks.ingest.parsers.safety import BlockCollector


class TextParser:
    """Parser for plain text files."""

    format = "text"
    mime = "text/plain"

    def parse(self, data: bytes, limits: ParseLimits) -> ParsedDocument:
        """Decode the bytes and make one paragraph block per blank-line-separated paragraph."""
        decoded = decode_text(data)
        blocks = BlockCollector(limits)
        for paragraph in split_paragraphs(decoded.text):
            blocks.add(paragraph)
        return ParsedDocument(
            format=self.format, mime=self.mime, blocks=blocks.blocks, encoding=decoded.encoding
        )
