"""Request and response models of the retrieve service."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

FilterValue = str | int | float | bool
# A name the stores look up (a collection, a document id). None stored holds a NUL character, and
# PostgreSQL's driver drops it from the comparison, so "a\x00b" would find "ab": refused with 422.
Identifier = Annotated[str, Field(pattern=r"^[^\x00]*$")]
FilterCondition = dict[Literal["eq", "ne", "in", "gt", "gte", "lt", "lte"], FilterValue | list[FilterValue]]


class SortSpec(BaseModel):
    """Order results by relevance (default) or by a metadata field of their document."""

    by: str = Field("score", description="'score', or a metadata field name such as 'published_at'.")
    order: Literal["asc", "desc"] = Field("desc", description="Sort direction.")


class RetrieveInput(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "query": "지사의 업무 범위",
                    "collections": ["docs"],
                    "top_k": 5,
                    "mode": "hybrid",
                    "filters": {"year": {"gte": 2020}, "lang": "ko"},
                }
            ]
        }
    )

    query: str = Field(..., min_length=1, max_length=4000, description="What to search for, any language.")
    collections: list[Identifier] = Field(
        ..., min_length=1, max_length=32, description="Collections to search."
    )
    top_k: int = Field(10, ge=1, le=1000, description="Results to return.")
    offset: int = Field(0, ge=0, le=10_000, description="Results to skip (pagination).")
    mode: Literal["hybrid", "keyword", "vector"] = Field(
        "hybrid", description="keyword = BM25 on analysed terms; vector = embeddings; hybrid = both, fused."
    )
    filters: dict[str, FilterValue | list[FilterValue] | FilterCondition] | None = Field(
        None,
        description=(
            "Conditions on document metadata, all of which must hold: a value means equals, a list "
            "means any of, an object holds operators eq, ne, in, gt, gte, lt, lte."
        ),
    )
    sort: SortSpec | None = Field(None, description="Order of the relevant results; default by score.")
    vector_weight: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description=(
            "Hybrid only: weight of the vector leg (0 = keyword only, 1 = vector only). Default: the "
            "server's setting, and 0 for languages the embedder does not understand."
        ),
    )
    highlight: bool = Field(True, description="Return snippets with matched terms marked <em>…</em>.")


class RetrieveHit(BaseModel):
    chunk_id: str = Field(..., description="Stable id of the chunk.")
    document_id: str = Field(..., description="Document the chunk belongs to.")
    collection: str = Field(..., description="Collection of the document.")
    text: str = Field(..., description="The chunk's text.")
    score: float = Field(..., description="Relevance; comparable within one response only.")
    title: str | None = Field(None, description="Title of the document.")
    metadata: dict[str, Any] = Field(default_factory=dict, description="The document's metadata.")
    page: int | None = Field(None, description="1-based page of the chunk, for paged formats (PDF).")
    start: int = Field(..., description="Character offset of the chunk in the document text.")
    end: int = Field(..., description="Character offset where the chunk ends.")
    source: str | None = Field(None, description="Original file name, when uploaded as a file.")
    highlights: list[str] | None = Field(None, description="Snippets with matched terms in <em>…</em>.")


class RetrieveOutput(BaseModel):
    results: list[RetrieveHit] = Field(..., description="Best first (or in the requested sort order).")
    took_ms: float = Field(..., description="Time spent in the service, in milliseconds.")
    mode: str = Field(..., description="The mode that ran.")
    query_language: str = Field(..., description="Detected language of the query (ISO 639-1).")
    vector_weight: float = Field(..., description="Weight the vector leg had in the fusion (0 for keyword).")
