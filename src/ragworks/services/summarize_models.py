"""Request and response models of the summarize service."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ragworks.services.generation import Generator
from ragworks.services.retrieve_models import Identifier


class SummarizeInput(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"collection": "reports", "document_id": "annual-2024", "target_words": 120},
                {"text": "Long text to summarize ...", "style": "bullets"},
            ]
        }
    )

    text: str | None = Field(
        None, min_length=1, max_length=5_000_000, description="Text to summarize (or give a stored document)."
    )
    collection: Identifier | None = Field(None, description="Collection of the stored document to summarize.")
    document_id: Identifier | None = Field(None, description="Id of the stored document to summarize.")
    target_words: int = Field(120, ge=10, le=1000, description="About how many words the summary has.")
    style: Literal["paragraph", "bullets"] = Field("paragraph", description="One paragraph, or bullets.")
    max_tokens: int | None = Field(
        None,
        ge=16,
        le=2048,
        description="Most tokens of each generated summary; default about two per target word.",
    )
    temperature: float = Field(0.2, ge=0.0, le=2.0, description="Sampling temperature (0 = greedy).")

    @model_validator(mode="after")
    def _one_input(self) -> Self:
        stored = self.collection is not None or self.document_id is not None
        if (self.text is None) == (not stored):
            raise ValueError("give either 'text' or 'collection' with 'document_id', not both or neither")
        if stored and (self.collection is None or self.document_id is None):
            raise ValueError("'collection' and 'document_id' name a stored document together")
        return self


class SummarizeOutput(BaseModel):
    summary: str = Field(..., description="The summary (bullets start with '- ').")
    parts: int = Field(
        ...,
        description=(
            "Pieces summarized separately before the final summary (map steps, all rounds); 1 when the "
            "input fit the model's window at once."
        ),
    )
    input_words: int = Field(..., description="Words of the input text.")
    generator: Generator = Field(..., description="Who wrote the summary.")
    note: str | None = Field(None, description="How the summary was made, when not by the model.")
    document_id: str | None = Field(None, description="The summarized document, when one was given.")
    title: str | None = Field(None, description="Its title.")
    took_ms: float = Field(..., description="Time spent in the service, in milliseconds.")
