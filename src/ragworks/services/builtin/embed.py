"""embed: dense vectors of texts, from the embedder the collections are indexed with."""

from __future__ import annotations

from typing import Annotated

import anyio
from pydantic import BaseModel, ConfigDict, Field

from ragworks.engines.embed.base import Embedder
from ragworks.services.base import Service, ServiceContext

MAX_TEXTS = 256
MAX_TEXT_CHARS = 20_000  # far beyond the model's window (it reads the first max_tokens tokens)


class EmbedInput(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"texts": ["Vitamin D and bone density", "지사의 업무 범위"]}]}
    )

    texts: list[Annotated[str, Field(max_length=MAX_TEXT_CHARS)]] = Field(
        ...,
        min_length=1,
        max_length=MAX_TEXTS,
        description=f"1 to {MAX_TEXTS} texts of up to {MAX_TEXT_CHARS} characters each.",
    )


class EmbedOutput(BaseModel):
    model: str = Field(..., description="The embedding model.")
    dimension: int = Field(..., description="Length of each vector.")
    embeddings: list[list[float]] = Field(..., description="One L2-normalised vector per text, in order.")
    tokens: int = Field(..., description="Model tokens in the texts (before truncation to its window).")


Input = EmbedInput
Output = EmbedOutput


async def run(request: Input, ctx: ServiceContext) -> Output:
    """Embed in a worker thread (the event loop stays free)."""
    vectors, tokens = await anyio.to_thread.run_sync(_embed, ctx.embedder, request.texts)
    return Output(
        model=ctx.embedder.name, dimension=ctx.embedder.dimension, embeddings=vectors, tokens=tokens
    )


def _embed(embedder: Embedder, texts: list[str]) -> tuple[list[list[float]], int]:
    vectors: list[list[float]] = embedder.embed(texts).tolist()
    return vectors, sum(embedder.count_tokens(t) for t in texts)


SERVICE = Service(
    name="embed",
    summary="Embeddings of texts",
    description="Vectors of up to 256 texts from the embedder the collections are indexed with.",
    input=Input,
    output=Output,
    run=run,
    aliases=("/v1/embed",),
)
