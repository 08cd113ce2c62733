"""The served text of a stored document, rebuilt from its chunks in order."""

from __future__ import annotations

from dataclasses import dataclass

from ragworks.domain import Document, DocumentStatus
from ragworks.engines.store.base import ChunkStore, MetadataStore
from ragworks.errors import Conflict


@dataclass(frozen=True, slots=True)
class DocumentText:
    """A document and the text its served chunks cover (overlaps removed), page by page when paged."""

    document: Document
    text: str
    chunk_count: int


def read_document_text(
    store: MetadataStore, chunk_store: ChunkStore, collection: str, document_id: str
) -> DocumentText:
    """The text of the version searches see (blocking).

    Raises:
        NotFound: no such collection or document.
        Conflict: the document is deleted, or no version of it is indexed yet.
    """
    document = store.get_document(collection, document_id)
    if document.status == DocumentStatus.DELETED:
        raise Conflict(f"document '{document_id}' is deleted")
    if document.active_version is None:
        raise Conflict(
            f"document '{document_id}' is not indexed yet (status: {document.status})",
            details={"status": str(document.status)},
        )
    spans = chunk_store.version_spans(collection, document_id, document.active_version)
    return DocumentText(document, join_chunks(spans), len(spans))


def join_chunks(spans: list[tuple[str, int, int]]) -> str:
    """Chunk texts (each ``text[start:end]`` of the document) joined without their overlaps; a gap
    between chunks (a heading or page boundary) becomes a blank line."""
    parts: list[str] = []
    covered = 0
    for text, start, end in spans:
        if end <= covered:
            continue
        if start < covered:
            text = text[covered - start :]
        elif parts:
            parts.append("\n\n")
        parts.append(text)
        covered = end
    return "".join(parts)
