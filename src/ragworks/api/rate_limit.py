"""Per-caller rate limits: a token bucket per API key (or client address), 429 once it is empty.

Runs inside the auth middleware, which has put the caller's principal on ``scope["state"]`` by then,
and outside the routes, so a refused request costs one bucket check and no routing, parsing or I/O.
Answered requests carry ``RateLimit-Limit`` and ``RateLimit-Remaining`` (the IETF draft's names);
refused ones also ``Retry-After``. Health probes and metrics scrapes are never limited.
"""

from __future__ import annotations

import json
import math
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ragworks.api.client_address import ClientAddress
from ragworks.config import Settings
from ragworks.engines.ratelimit.base import Decision, RateLimiter
from ragworks.engines.ratelimit.providers import build_rate_limiter
from ragworks.errors import RagworksError

EXEMPT_PATHS = frozenset({"/health", "/ready", "/metrics"})
LIMIT_HEADER = b"ratelimit-limit"
REMAINING_HEADER = b"ratelimit-remaining"
_NO_STATE: dict[str, Any] = {}


class RateLimited(RagworksError):
    """The caller's bucket is empty; ``details.retry_after_s`` says when to try again."""

    status_code = 429
    code = "rate_limited"


class RateLimitMetrics:
    """The rate limits' counters, on the app's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.limited = Counter(
            "ragworks_rate_limited_total",
            "Requests refused with 429 because the caller's token bucket was empty.",
            registry=registry,
        )
        self.unchecked = Counter(
            "ragworks_rate_limit_unchecked_total",
            "Requests let through without a rate-limit check because the bucket store (Redis) was "
            "unavailable.",
            registry=registry,
        )


class RateLimitMiddleware:
    """Checks each request against its caller's bucket; starts and closes the limiter with the app.

    ``every_caller``: limit requests without an API key too, by client address; otherwise only requests
    made with a key are limited (``rate_limits.enabled`` unset).
    """

    def __init__(
        self,
        app: ASGIApp,
        limiter: RateLimiter,
        metrics: RateLimitMetrics,
        client_address: ClientAddress,
        every_caller: bool,
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.metrics = metrics
        self.client_address = client_address
        self.every_caller = every_caller
        self._limit_value = str(limiter.burst).encode()
        # Header values for every possible remaining count, encoded once (bounded like the buckets).
        self._remaining_values = [str(n).encode() for n in range(min(limiter.burst, 4096) + 1)]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        caller = self._caller(scope)
        if caller is None:
            await self.app(scope, receive, send)
            return
        decision = await self.limiter.hit(caller)
        if not decision.checked:
            self.metrics.unchecked.inc()
            await self.app(scope, receive, send)
            return
        if not decision.allowed:
            self.metrics.limited.inc()
            await self._refuse(send, decision, keyed=caller.startswith("key:"))
            return
        headers = (
            (LIMIT_HEADER, self._limit_value),
            (REMAINING_HEADER, self._remaining(decision.remaining)),
        )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _caller(self, scope: Scope) -> str | None:
        """``key:<id>`` for a request made with an API key, else ``ip:<address>`` when every caller is
        limited, else None (not limited)."""
        principal = scope.get("state", _NO_STATE).get("principal")
        key_id: str | None = getattr(principal, "key_id", None)
        if key_id:
            return "key:" + key_id
        if self.every_caller:
            return "ip:" + self.client_address.of(scope)
        return None

    def _remaining(self, remaining: int) -> bytes:
        values = self._remaining_values
        return values[remaining] if remaining < len(values) else str(remaining).encode()

    async def _refuse(self, send: Send, decision: Decision, *, keyed: bool) -> None:
        retry_after = max(1, math.ceil(decision.retry_after_s))
        who = "this API key" if keyed else "this address"
        error = RateLimited(
            f"too many requests from {who}: {self.limiter.burst} at once, "
            f"{self.limiter.requests_per_s:g} per second after that; retry in {retry_after} s",
            details={"retry_after_s": retry_after},
        )
        body = json.dumps(error.to_dict()).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(retry_after).encode()),
            (LIMIT_HEADER, self._limit_value),
            (REMAINING_HEADER, b"0"),
        ]
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Start the limiter before the app starts; close it after the app has shut down."""

        async def receive_and_start() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.limiter.start()
            return message

        async def close_and_send(message: Message) -> None:
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                await self.limiter.close()
            await send(message)

        await self.app(scope, receive_and_start, close_and_send)


def install_rate_limits(app: Starlette, settings: Settings, registry: CollectorRegistry) -> None:
    """Add the rate-limit middleware to ``app`` unless ``rate_limits.enabled`` is false.

    Raises:
        ValueError: ``server.trusted_proxies`` has an entry that is no address or network, or the
            Redis backend is chosen without ``redis.url``.
    """
    limits = settings.rate_limits
    if limits.enabled is False:
        return
    app.add_middleware(
        RateLimitMiddleware,
        limiter=build_rate_limiter(settings),
        metrics=RateLimitMetrics(registry),
        client_address=ClientAddress(settings.server.trusted_proxies),
        every_caller=limits.enabled is True,
    )
