"""Document parsers: detect the format of an upload by content and turn it into text blocks.

``parse_document`` runs in the calling process; ``IsolatedParser`` runs it in worker processes with a
time limit, which is how untrusted uploads should be parsed.
"""

from __future__ import annotations

import dataclasses

from ragworks.engines.store.text import storable_text
from ragworks.errors import RagworksError
from ragworks.ingest.parsers.base import (
    Block,
    CorruptDocument,
    DocumentTooComplex,
    EmptyDocument,
    EncryptedDocument,
    ParsedDocument,
    ParseLimits,
    Parser,
)
from ragworks.ingest.parsers.detect import DocumentFormat, detect_format
from ragworks.ingest.parsers.isolation import IsolatedParser
from ragworks.ingest.parsers.registry import PARSERS, parser_for


def parse_document(data: bytes, filename: str | None, limits: ParseLimits) -> ParsedDocument:
    """Detect the format of ``data`` and parse it; every failure is a RagworksError subclass."""
    try:
        document = parser_for(detect_format(data, filename)).parse(data, limits)
    except RagworksError:
        raise
    except RecursionError as exc:  # deeply nested XML/HTML/JSON
        raise DocumentTooComplex("the document is nested too deeply to parse") from exc
    except MemoryError as exc:  # a parser process's address space is capped (IsolatedParser)
        raise DocumentTooComplex("parsing the document needed more memory than a parser may use") from exc
    except Exception as exc:
        # Libraries raise their own exception types for damaged files; callers only see ours.
        raise CorruptDocument(f"{type(exc).__name__}: {exc}") from exc
    _make_storable(document)
    if not document.blocks:
        raise EmptyDocument(f"no text could be extracted from the {document.format} document")
    return document


def _make_storable(document: ParsedDocument) -> None:
    """Remove from ``document``'s text what no store can keep (NUL characters, unpaired surrogates),
    before chunk offsets are taken from it; blocks left empty are dropped."""
    blocks: list[Block] = []
    for block in document.blocks:
        text = storable_text(block.text)
        if text == block.text:
            blocks.append(block)
        elif text.strip():
            blocks.append(dataclasses.replace(block, text=text))
    document.blocks = blocks
    if document.title is not None:
        document.title = storable_text(document.title)


__all__ = [
    "PARSERS",
    "Block",
    "CorruptDocument",
    "DocumentFormat",
    "DocumentTooComplex",
    "EmptyDocument",
    "EncryptedDocument",
    "IsolatedParser",
    "ParseLimits",
    "ParsedDocument",
    "Parser",
    "detect_format",
    "parse_document",
]
