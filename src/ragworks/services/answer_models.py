"""Request and response models of the answer service."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ragworks.services.generation import Generator
from ragworks.services.retrieve_models import FilterCondition, FilterValue, Identifier


class AnswerInput(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "question": "What does vitamin D deficiency do to bone density?",
                    "collections": ["papers"],
                    "top_k": 5,
                    "max_tokens": 200,
                }
            ]
        }
    )

    question: str = Field(..., min_length=1, max_length=4000, description="The question, any language.")
    collections: list[Identifier] = Field(
        ..., min_length=1, max_length=32, description="Collections to search."
    )
    top_k: int = Field(5, ge=1, le=20, description="Passages retrieved as sources.")
    mode: Literal["hybrid", "keyword", "vector"] = Field("hybrid", description="Retrieval mode.")
    filters: dict[str, FilterValue | list[FilterValue] | FilterCondition] | None = Field(
        None, description="Conditions on document metadata, as in retrieve."
    )
    max_tokens: int = Field(256, ge=1, le=2048, description="Most tokens the answer may have.")
    temperature: float = Field(0.2, ge=0.0, le=2.0, description="Sampling temperature (0 = greedy).")
    min_relevance: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description=(
            "Floor on each passage's relevance to the question: the embedding cosine where the "
            "embedder understands the question's language (default 0.25), otherwise the share of the "
            "question's terms found in the passage (default 0.5). Passages below it are not used; "
            "with none left the answer is 'nothing relevant found'. 0 keeps every passage."
        ),
    )


class Citation(BaseModel):
    n: int = Field(..., description="The source number, as in the answer's [n] markers.")
    chunk_id: str = Field(..., description="The cited chunk (as in retrieve results).")
    document_id: str = Field(..., description="Document the chunk belongs to.")
    collection: str = Field(..., description="Collection of the document.")
    title: str | None = Field(None, description="Title of the document.")
    page: int | None = Field(None, description="1-based page of the chunk, for paged formats (PDF).")
    source: str | None = Field(None, description="Original file name, when uploaded as a file.")
    text: str = Field(..., description="Snippet of the chunk: the sentences that match best.")
    score: float = Field(..., description="Retrieval score (comparable within one response only).")
    relevance: float = Field(..., description="Relevance to the question (see min_relevance).")


class AnswerOutput(BaseModel):
    answer: str = Field(..., description="The answer, with [n] markers naming its sources.")
    found: bool = Field(
        ..., description="False when no relevant passage was found (and nothing was generated)."
    )
    cited: bool = Field(
        ...,
        description=(
            "True when the citations are the sources the answer's markers name; False when the model "
            "cited nothing and the citations are all the sources it was given."
        ),
    )
    citations: list[Citation] = Field(..., description="Sources of the answer, by number.")
    sources_used: int = Field(..., description="Passages given to the model (or quoted from).")
    generator: Generator = Field(..., description="Who wrote the answer.")
    note: str | None = Field(None, description="How the answer was made, when not by the model as asked.")
    finish_reason: str | None = Field(
        None, description="'stop' or 'length' (max_tokens reached); None when nothing was generated."
    )
    took_ms: float = Field(..., description="Time spent in the service, in milliseconds.")
