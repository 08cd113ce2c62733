"""The gRPC side of the model service: ``ragworks.model.v1.ModelService`` and grpc.health.v1.

Status codes: INVALID_ARGUMENT for bad input (too many texts, a text over the size limit),
RESOURCE_EXHAUSTED when the queue is full (trailing metadata ``retry-after`` in seconds),
DEADLINE_EXCEEDED when the call's deadline passes before its vectors are computed, UNAVAILABLE while
the models load or the service stops, FAILED_PRECONDITION for Generate without a served LLM.
A cancelled call cancels its queued request, which is then dropped before it is computed.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any, NoReturn, TypeVar

import grpc
import numpy as np
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from ragworks.engines.llm.base import GenerationParams, LLMError
from ragworks.model_service import model_pb2, model_pb2_grpc
from ragworks.model_service.batcher import BatcherClosed, DeadlineExceeded, QueueFull, TextKind
from ragworks.model_service.core import (
    EXPECTED_ERRORS,
    InvalidRequest,
    ModelServiceCore,
    NoLLMServed,
    ServiceInfo,
    ServiceStarting,
)

SERVICE_NAME = "ragworks.model.v1.ModelService"
MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # a 2,048-text request of long texts, or its vectors, fits
T = TypeVar("T")

KINDS = {
    model_pb2.TEXT_KIND_UNSPECIFIED: TextKind.DOCUMENT,
    model_pb2.TEXT_KIND_DOCUMENT: TextKind.DOCUMENT,
    model_pb2.TEXT_KIND_QUERY: TextKind.QUERY,
}


async def _abort(context: grpc.aio.ServicerContext, exc: Exception) -> NoReturn:
    """End the call with the status code that ``exc`` stands for."""
    if isinstance(exc, QueueFull):
        context.set_trailing_metadata((("retry-after", str(exc.retry_after_s)),))
        await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))
    codes: list[tuple[type[Exception], grpc.StatusCode]] = [
        (InvalidRequest, grpc.StatusCode.INVALID_ARGUMENT),
        (DeadlineExceeded, grpc.StatusCode.DEADLINE_EXCEEDED),
        (ServiceStarting, grpc.StatusCode.UNAVAILABLE),
        (BatcherClosed, grpc.StatusCode.UNAVAILABLE),
        (NoLLMServed, grpc.StatusCode.FAILED_PRECONDITION),
        (LLMError, grpc.StatusCode.UNAVAILABLE),
    ]
    for kind, code in codes:
        if isinstance(exc, kind):
            await context.abort(code, str(exc))
    raise exc


async def _answer(context: grpc.aio.ServicerContext, call: Awaitable[T]) -> T:
    """``call``'s result, or the call ended with the status code of its (expected) exception."""
    try:
        return await call
    except EXPECTED_ERRORS as exc:
        await _abort(context, exc)


async def _info(core: ModelServiceCore, context: grpc.aio.ServicerContext) -> ServiceInfo:
    """The served models described, or the call ended UNAVAILABLE while they load."""
    try:
        return core.info()
    except ServiceStarting as exc:
        await _abort(context, exc)


class ModelServicer(model_pb2_grpc.ModelServiceServicer):
    """Answers ModelService calls from the shared ``ModelServiceCore``."""

    def __init__(self, core: ModelServiceCore) -> None:
        self.core = core

    async def Info(  # noqa: N802 - the RPC's name
        self, _request: model_pb2.InfoRequest, context: grpc.aio.ServicerContext
    ) -> model_pb2.InfoResponse:
        info = await _info(self.core, context)
        return model_pb2.InfoResponse(
            model=info.model,
            dimension=info.dimension,
            max_tokens=info.max_tokens,
            languages=info.languages,
            llm_model=info.llm_model,
        )

    async def Embed(  # noqa: N802
        self, request: model_pb2.EmbedRequest, context: grpc.aio.ServicerContext
    ) -> model_pb2.EmbedResponse:
        remaining = context.time_remaining()
        deadline = time.monotonic() + remaining if remaining is not None else None
        kind = KINDS.get(request.kind, TextKind.DOCUMENT)
        info = await _info(self.core, context)
        result = await _answer(context, self.core.embed(list(request.texts), kind, deadline))
        vectors = np.ascontiguousarray(result.vectors, dtype="<f4")
        return model_pb2.EmbedResponse(
            model=info.model,
            dimension=info.dimension,
            vectors=vectors.tobytes(),
            token_counts=result.token_counts,
        )

    async def CountTokens(  # noqa: N802
        self, request: model_pb2.CountTokensRequest, context: grpc.aio.ServicerContext
    ) -> model_pb2.CountTokensResponse:
        counts = await _answer(context, self.core.count_tokens(list(request.texts)))
        return model_pb2.CountTokensResponse(counts=counts)

    async def Generate(  # noqa: N802
        self, request: model_pb2.GenerateRequest, context: grpc.aio.ServicerContext
    ) -> model_pb2.GenerateResponse:
        params = GenerationParams(
            max_tokens=request.max_tokens or 256,
            temperature=request.temperature,
            stop=tuple(request.stop),
        )
        generation, model = await _answer(context, self.core.generate(request.prompt, params))
        return model_pb2.GenerateResponse(
            text=generation.text,
            prompt_tokens=generation.prompt_tokens,
            completion_tokens=generation.completion_tokens,
            finish_reason=generation.finish_reason,
            model=model,
        )


class HealthStatus:
    """The standard health service's view of this process: NOT_SERVING until the models are loaded."""

    def __init__(self) -> None:
        self.servicer: Any = health.aio.HealthServicer()

    async def set_serving(self, serving: bool) -> None:
        """Say SERVING (or NOT_SERVING) for the whole server and for ModelService."""
        status = (
            health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for service in ("", SERVICE_NAME):
            await self.servicer.set(service, status)

    async def shutting_down(self) -> None:
        """NOT_SERVING for good (load balancers stop sending calls)."""
        await self.servicer.enter_graceful_shutdown()


@asynccontextmanager
async def grpc_server(
    core: ModelServiceCore, health_status: HealthStatus, host: str, port: int
) -> AsyncIterator[tuple[grpc.aio.Server, int]]:
    """A started gRPC server with ModelService and health on ``host:port`` (0 = a free port), and the
    port it listens on; stopped on exit with a grace period for the calls in flight."""
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.so_reuseport", 0),
        ]
    )
    model_pb2_grpc.add_ModelServiceServicer_to_server(ModelServicer(core), server)  # type: ignore[no-untyped-call]
    health_pb2_grpc.add_HealthServicer_to_server(health_status.servicer, server)
    await health_status.set_serving(False)
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"the gRPC server cannot listen on {host}:{port}")
    await server.start()
    try:
        yield server, bound
    finally:
        await server.stop(grace=10.0)
