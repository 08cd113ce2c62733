"""The HTTP side of the model service: an OpenAI-compatible API over the same batcher as gRPC.

``POST /v1/embeddings`` (``input`` a text or a list, ``encoding_format`` float or base64; the extension
field ``input_type`` = "query" takes the embedder's query path), ``POST /v1/completions`` when an LLM
is served, ``GET /v1/models``, ``GET /health`` (503 until the models are loaded) and ``GET /metrics``.
Errors have OpenAI's body (``{"error": {"message", "type", "param", "code"}}``); a full queue answers
429 with ``Retry-After``.
"""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any, Literal

import numpy as np
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ragworks.api.openai_schemas import (
    EmbeddingItem,
    EmbeddingsRequest,
    EmbeddingsResponse,
    EmbeddingsUsage,
    ModelCard,
    ModelList,
)
from ragworks.engines.llm.base import GenerationParams
from ragworks.errors import BadRequest
from ragworks.model_service.batcher import DeadlineExceeded, QueueFull, TextKind
from ragworks.model_service.core import (
    EXPECTED_ERRORS,
    InvalidRequest,
    ModelServiceCore,
    NoLLMServed,
    ServiceStarting,
)


class ModelServiceEmbeddingsRequest(EmbeddingsRequest):
    """OpenAI's embeddings request, plus ``input_type`` (as TEI, NIM and Voyage accept it)."""

    input_type: Literal["query", "document"] = Field(
        "document", description="'query' embeds through the embedder's query path (search queries)."
    )


class CompletionRequest(BaseModel):
    """The fields of OpenAI's completions request that the served LLM supports."""

    model_config = ConfigDict(extra="ignore")

    prompt: str | list[str] = Field(..., description="One prompt (a list of one is accepted).")
    model: str | None = None
    max_tokens: int = Field(16, ge=1, description="Tokens to generate at most (OpenAI's default: 16).")
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    stop: str | list[str] | None = None
    seed: int | None = None


def openai_error(
    status: int, message: str, kind: str, code: str | None = None, **headers: str
) -> JSONResponse:
    """An error response with OpenAI's body, so OpenAI clients raise their matching exception."""
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers or None)


def error_response(exc: Exception) -> JSONResponse:
    """The HTTP answer for an expected exception of the model service."""
    if isinstance(exc, QueueFull):
        headers = {"Retry-After": str(exc.retry_after_s)}
        return openai_error(429, str(exc), "rate_limit_error", "queue_full", **headers)
    if isinstance(exc, InvalidRequest | BadRequest):
        return openai_error(400, str(exc), "invalid_request_error")
    if isinstance(exc, NoLLMServed):
        return openai_error(404, str(exc), "invalid_request_error", "model_not_found")
    if isinstance(exc, DeadlineExceeded):
        return openai_error(504, str(exc), "timeout_error")
    return openai_error(503, str(exc), "service_unavailable")  # starting, stopping, LLM failing


EXPECTED = (*EXPECTED_ERRORS, BadRequest)  # BadRequest: the shared OpenAI request model's own checks


def same_model(requested: str | None, served: str) -> bool:
    """Whether a request's ``model`` names the served one ("sentence-transformers/all-MiniLM-L6-v2" does)."""
    if not requested:
        return True
    return requested.rsplit("/", 1)[-1].lower() == served.lower()


def create_http_app(core: ModelServiceCore) -> FastAPI:
    """The model service's HTTP app over ``core`` (shared with the gRPC server)."""
    app = FastAPI(title="ragworks model service", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(RequestValidationError)
    async def invalid_body(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return openai_error(400, f"invalid request body: {exc.errors()[:3]}", "invalid_request_error")

    @app.post("/v1/embeddings", response_model=None)
    async def embeddings(body: ModelServiceEmbeddingsRequest) -> Any:
        try:
            texts = body.texts()
            info = core.info()
            if not same_model(body.model, info.model):
                message = f"model {body.model!r} is not served here; this service serves {info.model!r}"
                return openai_error(404, message, "invalid_request_error", "model_not_found")
            if body.dimensions is not None and body.dimensions != info.dimension:
                raise InvalidRequest(f"dimensions must be {info.dimension} for {info.model}")
            kind = TextKind.QUERY if body.input_type == "query" else TextKind.DOCUMENT
            result = await core.embed(texts, kind, None)
        except EXPECTED as exc:
            return error_response(exc)
        rows = np.ascontiguousarray(result.vectors, dtype="<f4")
        if body.encoding_format == "base64":
            data = [
                EmbeddingItem(index=i, embedding=base64.b64encode(row.tobytes()).decode("ascii"))
                for i, row in enumerate(rows)
            ]
        else:
            data = [EmbeddingItem(index=i, embedding=row.tolist()) for i, row in enumerate(rows)]
        tokens = sum(result.token_counts)
        usage = EmbeddingsUsage(prompt_tokens=tokens, total_tokens=tokens)
        return EmbeddingsResponse(data=data, model=info.model, usage=usage)

    @app.post("/v1/completions", response_model=None)
    async def completions(body: CompletionRequest) -> Any:
        prompts = [body.prompt] if isinstance(body.prompt, str) else body.prompt
        if len(prompts) != 1:
            return openai_error(400, "send exactly one prompt per request", "invalid_request_error")
        stop = (body.stop,) if isinstance(body.stop, str) else tuple(body.stop or ())
        params = GenerationParams(
            max_tokens=body.max_tokens,
            temperature=body.temperature,
            top_p=body.top_p,
            stop=stop,
            seed=body.seed,
        )
        try:
            generation, model = await core.generate(prompts[0], params)
        except EXPECTED as exc:
            return error_response(exc)
        return {
            "id": f"cmpl-{uuid.uuid4().hex}",
            "object": "text_completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "text": generation.text,
                    "index": 0,
                    "logprobs": None,
                    "finish_reason": generation.finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": generation.prompt_tokens,
                "completion_tokens": generation.completion_tokens,
                "total_tokens": generation.prompt_tokens + generation.completion_tokens,
            },
        }

    @app.get("/v1/models", response_model=None)
    async def models() -> Any:
        try:
            info = core.info()
        except ServiceStarting as exc:
            return error_response(exc)
        cards = [ModelCard(id=info.model, owned_by="ragworks-embedding")]
        if info.llm_model:
            cards.append(ModelCard(id=info.llm_model, owned_by="ragworks-llm"))
        return ModelList(data=cards)

    @app.get("/health")
    async def health() -> JSONResponse:
        if core.ready:
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "starting"}, status_code=503)

    @app.get("/metrics")
    async def metrics() -> Response:
        body, content_type = core.metrics.render()
        return Response(body, media_type=content_type)

    return app
