"""Routes generated from the service registry: ``POST /v1/services/{name}`` and friendly aliases.

Every route takes the service's ``Input`` plus three envelope fields: ``async`` (or the header
``Prefer: respond-async``) runs the call as a job and answers 202 with its id, ``callback_url`` (implies
``async``) is POSTed the signed result when the job ends, and ``stream`` (or ``Accept:
text/event-stream``) streams Server-Sent Events.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field, create_model

from ragworks.api.access import PrincipalDep, read_scope
from ragworks.api.deps import BackgroundDep, ContainerDep, RunnerDep, ServiceRegistryDep
from ragworks.api.schemas import ServiceAccepted, ServiceInfo, ServiceList
from ragworks.auth.access import require_collections
from ragworks.errors import RagworksError
from ragworks.observability.logging import get_request_id
from ragworks.services.base import Service, ServiceEvent
from ragworks.services.registry import ServiceRegistry

log = logging.getLogger(__name__)

ENVELOPE_DUMP_EXCLUDE = {"async_", "callback_url", "stream"}


def build_router(registry: ServiceRegistry) -> APIRouter:
    """One route per service name, plus its aliases, plus the listing."""
    router = APIRouter(tags=["services"], dependencies=[Depends(read_scope)])
    router.add_api_route(
        "/v1/services",
        list_services,
        methods=["GET"],
        response_model=ServiceList,
        summary="The registered AI services with their input and output schemas",
    )
    for service in registry:
        model = request_model(service)
        endpoint = _endpoint(service, model)
        for path in (f"/v1/services/{service.name}", *service.aliases):
            router.add_api_route(
                path,
                endpoint,
                methods=["POST"],
                response_model=service.output,
                summary=service.summary,
                description=service.description or service.summary,
                operation_id=f"{service.name}_{path.strip('/').replace('/', '_')}",
                responses={
                    200: {"content": {"text/event-stream": {}}, "description": "The output, or SSE"},
                    202: {"model": ServiceAccepted, "description": "Accepted as a background job"},
                },
            )
    return router


async def list_services(registry: ServiceRegistryDep) -> ServiceList:
    """Every service: name, routes, whether it streams, and its JSON schemas."""
    return ServiceList(services=[ServiceInfo.of(s) for s in registry])


def request_model(service: Service[Any, Any]) -> type[BaseModel]:
    """The service's Input plus the envelope fields every service route accepts."""
    name = "".join(part.title() for part in service.name.split("_")) + "Request"
    model: type[BaseModel] = create_model(
        name,
        __base__=service.input,
        async_=(
            bool,
            Field(False, alias="async", description="Run in the background: 202 with a job id."),
        ),
        callback_url=(
            str | None,
            Field(
                None,
                pattern=r"^https?://\S+$",
                max_length=2048,
                description="POSTed the signed result or error when the background job ends (implies async).",
            ),
        ),
        stream=(bool, Field(False, description="Stream Server-Sent Events (tokens, then the rest).")),
    )
    return model


def _endpoint(service: Service[Any, Any], model: type[BaseModel]) -> Callable[..., Awaitable[Any]]:
    async def endpoint(
        request: Request,
        body: BaseModel,
        runner: RunnerDep,
        background: BackgroundDep,
        container: ContainerDep,
        principal: PrincipalDep,
    ) -> Any:
        data = service.parse(body.model_dump(exclude=ENVELOPE_DUMP_EXCLUDE))
        await require_collections(container.store, principal, input_collections(data), "read")
        callback_url: str | None = getattr(body, "callback_url", None)
        prefer_async = "respond-async" in request.headers.get("prefer", "").lower()
        if getattr(body, "async_", False) or prefer_async or callback_url:
            job_id = await background.submit(
                service,
                data,
                callback_url=callback_url,
                request_id=get_request_id(),
                tenant=principal.tenant,
            )
            accepted = ServiceAccepted(
                job_id=job_id, status="queued", service=service.name, status_url=f"/v1/jobs/{job_id}"
            )
            return JSONResponse(
                accepted.model_dump(), status_code=202, headers={"Location": accepted.status_url}
            )
        wants_stream = "text/event-stream" in request.headers.get("accept", "")
        if getattr(body, "stream", False) or wants_stream:
            events = runner.stream(service, data, request_id=get_request_id())
            first = await anext(events)  # errors before the first event still get a JSON error status
            return StreamingResponse(
                _sse(first, events),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        return await runner.run(service, data, request_id=get_request_id())

    parameters = [
        inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request),
        inspect.Parameter("body", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=model),
        inspect.Parameter("runner", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=RunnerDep),
        inspect.Parameter("background", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=BackgroundDep),
        inspect.Parameter("container", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=ContainerDep),
        inspect.Parameter("principal", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=PrincipalDep),
    ]
    endpoint.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    endpoint.__name__ = f"service_{service.name}"
    return endpoint


def input_collections(data: BaseModel) -> list[str]:
    """The collections a service input names (its ``collection`` and ``collections`` fields): the
    caller must be allowed to read each of them. A service that reads collections named in other
    fields must check them itself."""
    names: list[str] = []
    single = getattr(data, "collection", None)
    if isinstance(single, str):
        names.append(single)
    several = getattr(data, "collections", None)
    if isinstance(several, list):
        names += [name for name in several if isinstance(name, str)]
    return list(dict.fromkeys(names))


async def _sse(first: ServiceEvent, rest: AsyncIterator[ServiceEvent]) -> AsyncIterator[bytes]:
    """Events as SSE frames; an error mid-stream becomes a final ``error`` event."""
    yield _frame(first)
    try:
        async for event in rest:
            yield _frame(event)
    except RagworksError as exc:
        yield _frame(ServiceEvent("error", exc.to_dict()))
    except Exception:
        error = {"error": {"code": "internal_error", "message": "the service failed; see the server log"}}
        yield _frame(ServiceEvent("error", error))
        log.exception("service stream failed")


def _frame(event: ServiceEvent) -> bytes:
    return f"event: {event.event}\ndata: {json.dumps(event.data, ensure_ascii=False)}\n\n".encode()
