"""Request time limit: a request whose response has not started within ``server.request_timeout_s``
is cancelled and answered 504.

The limit covers reading the body, the route and everything it awaits, up to the first byte of the
response. A streamed answer (SSE) is held to it until its first event, then runs on: its length is the
generation's, and a client that goes away stops it. Cancellation reaches async work at once; a step
running in a worker thread (a store query, a non-streamed llama.cpp generation) cannot be interrupted
in Python, so the 504 follows when that step returns, and nothing after it runs.
"""

from __future__ import annotations

import json
import logging
import math

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ragworks.errors import RagworksError

log = logging.getLogger(__name__)


class RequestTimedOut(RagworksError):
    """The request ran past the server's time limit and was cancelled."""

    status_code = 504
    code = "request_timeout"


class RequestTimeoutMiddleware:
    """Cancels a request that has not started its response within ``timeout_s`` and answers 504."""

    def __init__(self, app: ASGIApp, timeout_s: float) -> None:
        self.app = app
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        with anyio.CancelScope(deadline=anyio.current_time() + self.timeout_s) as deadline:

            async def send_and_lift(message: Message) -> None:
                nonlocal started
                if message["type"] == "http.response.start":
                    started = True
                    deadline.deadline = math.inf  # streaming from here on is not timed
                await send(message)

            await self.app(scope, receive, send_and_lift)
        if deadline.cancelled_caught and not started:
            log.warning(
                "request cancelled after %.0f s",
                self.timeout_s,
                extra={"method": scope.get("method"), "path": scope.get("path")},
            )
            await self._reject(send)

    async def _reject(self, send: Send) -> None:
        error = RequestTimedOut(
            f"the request took longer than {self.timeout_s:g} s and was cancelled; for long work ask "
            "for a background job (Prefer: respond-async) or a streamed answer",
            details={"timeout_s": self.timeout_s},
        )
        body = json.dumps(error.to_dict()).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 504, "headers": headers})
        await send({"type": "http.response.body", "body": body})
