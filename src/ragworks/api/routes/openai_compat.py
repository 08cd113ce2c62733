"""OpenAI-compatible endpoints: chat completions (streamed too), embeddings and the model list.

Errors keep the platform's shape, whose ``message`` and ``code`` are where OpenAI clients look.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from ragworks.api.access import PrincipalDep, read_scope
from ragworks.api.deps import ContainerDep, RunnerDep
from ragworks.api.openai_schemas import (
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatCompletionResponse,
    ChunkChoice,
    EmbeddingsRequest,
    EmbeddingsResponse,
    ModelCard,
    ModelList,
    Usage,
)
from ragworks.api.schemas import ErrorResponse
from ragworks.auth.access import require_collections
from ragworks.errors import BadRequest, RagworksError
from ragworks.observability.logging import get_request_id
from ragworks.services import chat
from ragworks.services.builtin import embed

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["openai"], dependencies=[Depends(read_scope)])
UNSET_EXTRAS = {"usage", "ragworks"}


@router.post(
    "/chat/completions",
    response_model=ChatCompletionResponse,
    summary="Chat completion (OpenAI-compatible; `ragworks.collections` grounds it)",
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "The completion, or SSE chunks"},
        501: {
            "model": ErrorResponse,
            "description": "No model to answer with: an ungrounded chat on a server without a generative "
            "LLM (llm_unavailable), or a grounded one without the answer service (grounding_unavailable)",
        },
    },
)
async def chat_completions(
    body: ChatCompletionRequest, runner: RunnerDep, container: ContainerDep, principal: PrincipalDep
) -> ChatCompletionResponse | StreamingResponse:
    """Complete the conversation, or answer its last question from collections."""
    if body.ragworks is not None:
        await require_collections(container.store, principal, body.ragworks.collections, "read")
    request = body.to_chat()
    completion_id, created = chat.completion_id(), int(time.time())
    if not body.stream:
        result = await chat.complete(runner, request)
        return ChatCompletionResponse.of(result, completion_id, created)
    items = chat.stream(runner, request)
    first = await anext(items)  # errors before the first piece still get a JSON error status
    include_usage = body.stream_options is not None and body.stream_options.include_usage
    frames = _frames(first, items, completion_id, created, chat.model_name(runner), include_usage)
    return StreamingResponse(
        frames,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.post("/embeddings", response_model=EmbeddingsResponse, summary="Embeddings (OpenAI-compatible)")
async def embeddings(body: EmbeddingsRequest, runner: RunnerDep) -> EmbeddingsResponse:
    """Vectors of the input texts, as floats or base64 float32."""
    data = embed.SERVICE.parse({"texts": body.texts()})
    output = await runner.run(embed.SERVICE, data, request_id=get_request_id())
    if body.dimensions is not None and body.dimensions != output.dimension:
        raise BadRequest(
            f"{output.model} has {output.dimension} dimensions; it cannot give {body.dimensions}",
            details={"param": "dimensions"},
        )
    return EmbeddingsResponse.of(
        output.embeddings, body.model or output.model, output.tokens, body.encoding_format
    )


@router.get("/models", response_model=ModelList, summary="Models (OpenAI-compatible)")
async def models(runner: RunnerDep) -> ModelList:
    """The language model and the embedding model this server runs."""
    return ModelList(
        data=[ModelCard(id=name, owned_by=f"ragworks-{kind}") for name, kind in chat.served_models(runner)]
    )


async def _frames(
    first: str | chat.ChatResult,
    rest: AsyncIterator[str | chat.ChatResult],
    completion_id: str,
    created: int,
    model: str,
    include_usage: bool,
) -> AsyncIterator[bytes]:
    """OpenAI's chunk stream: the role, the pieces, the finish reason, the usage if asked, [DONE]."""

    def chunk(choices: list[ChunkChoice], **extra: object) -> bytes:
        event = ChatCompletionChunk(id=completion_id, created=created, model=model, choices=choices, **extra)
        # null inside a choice, as OpenAI sends it; absent at the top when unused
        return _data(
            event.model_dump(
                mode="json", exclude=UNSET_EXTRAS - {k for k, v in extra.items() if v is not None}
            )
        )

    yield chunk([ChunkChoice(delta={"role": "assistant", "content": ""})])
    try:
        item = first
        async for following in _prepend(first, rest):
            item = following
            if isinstance(item, str):
                yield chunk([ChunkChoice(delta={"content": item})])
        if isinstance(item, chat.ChatResult):
            yield chunk([ChunkChoice(delta={}, finish_reason=item.finish_reason)], ragworks=item.grounding)
            if include_usage:
                yield chunk([], usage=Usage.of(item))
    except RagworksError as exc:
        yield _data(exc.to_dict())
    except Exception:
        log.exception("chat completion stream failed")
        yield _data(
            {"error": {"code": "internal_error", "message": "the completion failed; see the server log"}}
        )
    yield b"data: [DONE]\n\n"


async def _prepend(
    first: str | chat.ChatResult, rest: AsyncIterator[str | chat.ChatResult]
) -> AsyncIterator[str | chat.ChatResult]:
    yield first
    async for item in rest:
        yield item


def _data(payload: object) -> bytes:
    return f"data: {json.dumps(payload, ensure_ascii=False, separators=(',', ':'))}\n\n".encode()
