"""Pure ASGI middleware: request id, HTTP metrics by route template, one access log line, and the
request log / usage rollups (``ragworks.usage``), whose recorder starts and stops with the app."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

import anyio
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ragworks.observability.logging import request_id_var
from ragworks.observability.metrics import UNMATCHED_ROUTE, Metrics
from ragworks.usage.context import request_facts_var
from ragworks.usage.tap import UsageHooks, UsageTap

REQUEST_ID_HEADER = "X-Request-ID"

# Client ids are echoed into headers and logs, so only short, plain tokens are trusted.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
_HEADER_KEY = REQUEST_ID_HEADER.lower().encode("latin-1")

# Anything else becomes "OTHER" in metric labels, so arbitrary client methods cannot add series.
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

access_logger = logging.getLogger("ragworks.access")


def request_id_from_headers(headers: list[tuple[bytes, bytes]]) -> str:
    """The client's ``X-Request-ID`` when it is valid, else a fresh uuid4 hex."""
    for key, value in headers:
        if key.lower() == _HEADER_KEY:
            candidate = value.decode("latin-1")
            if _VALID_REQUEST_ID.fullmatch(candidate):
                return candidate
            break
    return uuid.uuid4().hex


def route_template(scope: Scope) -> str:
    """The matched route's path template (bounded label values), or ``unmatched``."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) and path else UNMATCHED_ROUTE


class RequestContextMiddleware:
    """Sets the request id context for the whole request and records metrics and an access line.

    Written as plain ASGI (not ``BaseHTTPMiddleware``) so streaming responses pass through untouched
    and the context var set here is the one the endpoint and its threads see.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.usage: UsageHooks | None = None  # from the app's start-up to its shutdown

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id = request_id_from_headers(scope.get("headers", []))
        token = request_id_var.set(request_id)
        usage = self.usage
        tap = UsageTap(scope) if usage is not None else None
        facts_token = request_facts_var.set(tap.facts) if tap is not None else None
        start = time.perf_counter()
        status: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            if tap is not None:
                tap.on_send(message)
            await send(message)

        error: Exception | None = None
        try:
            await self.app(scope, receive if tap is None else tap.receive(receive), send_with_id)
        except Exception as exc:
            error = exc
            raise
        finally:
            try:
                # An exception before the response started becomes a 500 in the outer error handler.
                final_status = status if status is not None else 500
                duration_s = time.perf_counter() - start
                self._record(scope, final_status, duration_s, error)
                if usage is not None and tap is not None:
                    finished = tap.finished(
                        scope, usage.routes, request_id, route_template(scope), final_status, duration_s
                    )
                    usage.recorder.submit(finished)
            finally:
                if facts_token is not None:
                    request_facts_var.reset(facts_token)
                request_id_var.reset(token)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Start the usage recorder once the app has started, and flush and stop it before the app's
        engines stop (its last rollups still reach the database)."""

        async def receive_then_stop() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown" and self.usage is not None:
                recorder, self.usage = self.usage.recorder, None
                await anyio.to_thread.run_sync(recorder.stop)
            return message

        async def start_then_send(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                self.usage = _start_usage(scope.get("app"))
            await send(message)

        await self.app(scope, receive_then_stop, start_then_send)

    def _record(self, scope: Scope, status: int, duration_s: float, error: Exception | None) -> None:
        method = str(scope.get("method", ""))
        path = str(scope.get("path", ""))
        label_method = method if method in _KNOWN_METHODS else "OTHER"
        self.metrics.observe_request(label_method, route_template(scope), status, duration_s)
        duration_ms = round(duration_s * 1000, 3)
        # The server logs an escaped exception too, but only here does it carry the request id.
        access_logger.log(
            logging.ERROR if error is not None else logging.INFO,
            "%s %s %d %.1fms",
            method,
            path,
            status,
            duration_ms,
            extra={"method": method, "path": path, "status": status, "duration_ms": duration_ms},
            exc_info=error,
        )


def _start_usage(app: Any) -> UsageHooks | None:
    """The usage hooks of an app built on a container (``create_app``); None for any other app."""
    container = getattr(getattr(app, "state", None), "container", None)
    if container is None:
        return None
    from ragworks.usage.wiring import start_usage

    return start_usage(container)
