"""What the request middleware does for usage: a fresh ``RequestFacts`` per request, a look at the JSON
bodies of service calls (references to the chunks as they pass, no copies, capped), and the service
name from the route.

Parsing the bodies is left to the recorder's thread, so the event loop pays only for keeping a few
references.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from starlette.types import Message, Receive, Scope

from ragworks.usage.context import RequestFacts
from ragworks.usage.recorder import FinishedRequest, UsageRecorder

REQUEST_BODY_CAP = 64 * 1024
RESPONSE_BODY_CAP = 256 * 1024
_CONTENT_TYPE = b"content-type"
_JSON = b"json"
OPENAI_TAG = "openai"


class ServiceRoutes:
    """Which service a route serves: ``/v1/services/{name}`` and every alias of each registered
    service (so a new one needs no rule), and ``openai:<path>`` for the OpenAI-compatible routes."""

    def __init__(self, services: Iterable[Any]) -> None:
        self.by_path: dict[str, str] = {}
        for service in services:
            for path in (f"/v1/services/{service.name}", *service.aliases):
                self.by_path[path] = service.name

    def service_of(self, route_path: str, route: Any) -> str | None:
        """The service of the matched route, or None for routes that are not service calls."""
        name = self.by_path.get(route_path)
        if name is None and OPENAI_TAG in (getattr(route, "tags", None) or ()):
            return "openai:" + route_path.removeprefix("/v1/")
        return name


def _is_json(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    return any(k.lower() == _CONTENT_TYPE and _JSON in v.lower() for k, v in headers)


def path_collection(route_path: str, params: dict[str, Any]) -> str | None:
    """The collection a route names in its path: ``{collection}``, or ``{name}`` under /v1/collections."""
    value = params.get("collection")
    if value is None and route_path.startswith("/v1/collections/{name}"):
        value = params.get("name")
    return value if isinstance(value, str) else None


class UsageTap:
    """One request's usage capture; ``finished()`` builds what the recorder gets."""

    __slots__ = ("facts", "request_chunks", "response_chunks", "_request_size", "_response_size", "ts")

    def __init__(self, scope: Scope) -> None:
        self.facts = RequestFacts()
        self.ts = time.time()
        self._request_size = 0
        self._response_size = 0
        wants = scope.get("method") == "POST" and _is_json(scope.get("headers", []))
        self.request_chunks: list[bytes] | None = [] if wants else None
        self.response_chunks: list[bytes] | None = None

    def receive(self, receive: Receive) -> Receive:
        """``receive`` that keeps references to the JSON request body's chunks (up to the cap)."""
        if self.request_chunks is None:
            return receive

        async def tapped() -> Message:
            message = await receive()
            chunks = self.request_chunks
            if message["type"] == "http.request" and chunks is not None:
                body = message.get("body", b"")
                self._request_size += len(body)
                if self._request_size > REQUEST_BODY_CAP:
                    self.request_chunks = None  # too large to be a query: not read
                elif body:
                    chunks.append(body)
            return message

        return tapped

    def on_send(self, message: Message) -> None:
        """Watch the response: keep a JSON body's chunks (up to the cap)."""
        if message["type"] == "http.response.start":
            if _is_json(message.get("headers", [])):
                self.response_chunks = []
        elif message["type"] == "http.response.body" and self.response_chunks is not None:
            body = message.get("body", b"")
            self._response_size += len(body)
            if self._response_size > RESPONSE_BODY_CAP:
                self.response_chunks = None
            elif body:
                self.response_chunks.append(body)

    def finished(
        self,
        scope: Scope,
        routes: ServiceRoutes,
        request_id: str,
        route_path: str,
        status: int,
        duration_s: float,
    ) -> FinishedRequest:
        """The request as the recorder takes it; bodies only for service calls."""
        service = routes.service_of(route_path, scope.get("route"))
        return FinishedRequest(
            ts=self.ts,
            request_id=request_id,
            method=str(scope.get("method", "")),
            route=route_path,
            status=status,
            duration_ms=round(duration_s * 1000, 3),
            service=service,
            path_collection=path_collection(route_path, scope.get("path_params") or {}),
            facts=self.facts,
            request_body=self.request_chunks if service is not None else None,
            response_body=self.response_chunks if service is not None else None,
        )


class UsageHooks:
    """The recorder of one app and its service routes, started with the app and stopped before it."""

    def __init__(self, recorder: UsageRecorder, routes: ServiceRoutes) -> None:
        self.recorder = recorder
        self.routes = routes
