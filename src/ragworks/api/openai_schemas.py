"""Request and response models of the OpenAI-compatible endpoints (the fields OpenAI clients use).

Unknown request fields are ignored, as OpenAI clients send parameters a server may not support.
The extension field ``ragworks`` grounds a chat completion in collections; the official client sends it
with ``extra_body={"ragworks": {...}}``.
"""

from __future__ import annotations

import base64
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ragworks.engines.llm.base import GenerationParams
from ragworks.errors import BadRequest
from ragworks.services.chat import ChatRequest, ChatResult, Grounding, Message
from ragworks.services.retrieve_models import Identifier

DEFAULT_MAX_TOKENS = 256
_DEFAULTS = GenerationParams()


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str = Field(..., description="Only 'text' parts are supported.")
    text: str | None = Field(None, description="The text of a 'text' part.")


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"] = Field(
        ..., description="Who wrote the message."
    )
    content: str | list[ContentPart] | None = Field(None, description="Text, or a list of text parts.")

    def text(self, index: int) -> str:
        """The content as one text; 400 for non-text parts."""
        if self.content is None or isinstance(self.content, str):
            return self.content or ""
        for part in self.content:
            if part.type != "text":
                raise BadRequest(
                    f"only text content is supported (messages[{index}] has a '{part.type}' part)",
                    details={"param": f"messages[{index}].content"},
                )
        return "".join(part.text or "" for part in self.content)


class GroundingOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    collections: list[Identifier] = Field(
        ..., min_length=1, max_length=32, description="Collections to answer from."
    )
    top_k: int | None = Field(None, ge=1, le=50, description="Passages the answer may draw on.")
    filters: dict[str, Any] | None = Field(None, description="Metadata conditions, as for retrieve.")


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    include_usage: bool = Field(False, description="Send a last chunk with the token usage.")


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {"messages": [{"role": "user", "content": "What is a vaccine?"}], "max_tokens": 64},
                {
                    "messages": [{"role": "user", "content": "지사의 업무 범위는?"}],
                    "ragworks": {"collections": ["docs"], "top_k": 5},
                },
            ]
        },
    )

    model: str | None = Field(None, description="Accepted for compatibility; the server's model answers.")
    messages: list[ChatMessageIn] = Field(..., min_length=1, max_length=512, description="The conversation.")
    max_tokens: int | None = Field(
        None, ge=1, description=f"Longest answer in tokens (default {DEFAULT_MAX_TOKENS})."
    )
    max_completion_tokens: int | None = Field(None, ge=1, description="Same as max_tokens (newer name).")
    temperature: float | None = Field(None, ge=0.0, le=2.0, description="Sampling temperature.")
    top_p: float | None = Field(None, gt=0.0, le=1.0, description="Nucleus sampling mass.")
    stop: str | list[str] | None = Field(None, description="Up to 4 strings that end the answer.")
    seed: int | None = Field(None, description="Sampling seed, for repeatable answers.")
    n: int | None = Field(1, description="Answers wanted; only 1 is supported.")
    stream: bool = Field(False, description="Stream chunks as Server-Sent Events, ending with [DONE].")
    stream_options: StreamOptions | None = Field(None, description="Streaming options.")
    ragworks: GroundingOptions | None = Field(
        None, description="Extension: answer from these collections, with citations."
    )

    def to_chat(self) -> ChatRequest:
        """The chat use-case's request; 400 for what this server does not support."""
        if self.n not in (None, 1):
            raise BadRequest("only n=1 is supported", details={"param": "n"})
        stop = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        if len(stop) > 4 or not all(stop):
            raise BadRequest("stop takes up to 4 non-empty strings", details={"param": "stop"})
        params = GenerationParams(
            max_tokens=self.max_completion_tokens or self.max_tokens or DEFAULT_MAX_TOKENS,
            temperature=_DEFAULTS.temperature if self.temperature is None else self.temperature,
            top_p=_DEFAULTS.top_p if self.top_p is None else self.top_p,
            stop=tuple(stop),
            seed=self.seed,
        )
        grounding = None
        if self.ragworks is not None:
            options = self.ragworks.model_dump(exclude={"collections"}, exclude_none=True)
            grounding = Grounding(collections=self.ragworks.collections, options=options)
        messages = [Message(m.role, m.text(i)) for i, m in enumerate(self.messages)]
        return ChatRequest(messages=messages, params=params, grounding=grounding)


class Usage(BaseModel):
    prompt_tokens: int = Field(..., description="Tokens of the prompt.")
    completion_tokens: int = Field(..., description="Tokens generated.")
    total_tokens: int = Field(..., description="Both.")

    @classmethod
    def of(cls, result: ChatResult) -> Usage:
        total = result.prompt_tokens + result.completion_tokens
        return cls(
            prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens, total_tokens=total
        )


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str = Field(..., description="The answer.")


class ChatChoice(BaseModel):
    index: int = Field(0, description="Always 0 (n=1).")
    message: AssistantMessage
    finish_reason: str = Field(..., description="'stop' or 'length'.")
    logprobs: None = None


class ChatCompletionResponse(BaseModel):
    id: str = Field(..., description="Completion id.")
    object: Literal["chat.completion"] = "chat.completion"
    created: int = Field(..., description="Unix time.")
    model: str = Field(..., description="The model that answered.")
    choices: list[ChatChoice]
    usage: Usage
    ragworks: dict[str, Any] | None = Field(
        None, description="Extension, for grounded requests: the answer service's citations and notes."
    )

    @classmethod
    def of(cls, result: ChatResult, completion_id: str, created: int) -> ChatCompletionResponse:
        choice = ChatChoice(message=AssistantMessage(content=result.text), finish_reason=result.finish_reason)
        return cls(
            id=completion_id,
            created=created,
            model=result.model,
            choices=[choice],
            usage=Usage.of(result),
            ragworks=result.grounding,
        )


class ChunkChoice(BaseModel):
    index: int = 0
    delta: dict[str, str] = Field(..., description="The new piece: role first, then content.")
    finish_reason: str | None = None
    logprobs: None = None


class ChatCompletionChunk(BaseModel):
    """One streamed event; ``choices`` is empty in the last, usage-only, chunk."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None
    ragworks: dict[str, Any] | None = None


class EmbeddingsRequest(BaseModel):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [{"input": ["Vitamin D", "지사의 업무"], "model": "all-MiniLM-L6-v2"}]
        },
    )

    input: str | list[str] | list[int] | list[list[int]] = Field(
        ..., description="A text or a list of texts (token arrays are not supported)."
    )
    model: str | None = Field(None, description="Accepted and echoed; the server's embedder answers.")
    encoding_format: Literal["float", "base64"] = Field(
        "float",
        description="'base64': little-endian float32 bytes, base64-encoded (the OpenAI client's default).",
    )
    dimensions: int | None = Field(None, ge=1, description="Must be the model's dimension if given.")

    def texts(self) -> list[str]:
        """The input as texts; 400 for token arrays and empty input."""
        texts = [self.input] if isinstance(self.input, str) else self.input
        if not texts:
            raise BadRequest("input must not be empty", details={"param": "input"})
        if not all(isinstance(t, str) for t in texts):
            raise BadRequest(
                "token-id arrays are not supported as input: send the text itself", details={"param": "input"}
            )
        return [str(t) for t in texts]


class EmbeddingItem(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int = Field(..., description="Position of the text in the input.")
    embedding: list[float] | str = Field(..., description="The vector, or its base64 float32 bytes.")


class EmbeddingsUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingsResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[EmbeddingItem]
    model: str = Field(..., description="The requested model name, or the server's embedder.")
    usage: EmbeddingsUsage

    @classmethod
    def of(cls, vectors: list[list[float]], model: str, tokens: int, encoding: str) -> EmbeddingsResponse:
        data = [EmbeddingItem(index=i, embedding=_encode(v, encoding)) for i, v in enumerate(vectors)]
        return cls(data=data, model=model, usage=EmbeddingsUsage(prompt_tokens=tokens, total_tokens=tokens))


def _encode(vector: list[float], encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")
    return vector


class ModelCard(BaseModel):
    id: str = Field(..., description="Model name, as requests may give it.")
    object: Literal["model"] = "model"
    created: int = Field(0, description="Unix time (unknown: 0).")
    owned_by: str = Field(..., description="'ragworks-llm' or 'ragworks-embedding'.")


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
