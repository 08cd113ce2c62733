"""Values passed between the stages of the ingestion pipeline."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ChunkDraft:
    """A chunk before it is stored: text plus where it came from.

    ``start``/``end`` are character offsets into ``ParsedDocument.text``.
    """

    ordinal: int
    text: str
    start: int
    end: int
    page: int | None = None
    heading: str | None = None  # nearest heading above the chunk, when the document has headings
