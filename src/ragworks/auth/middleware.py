"""Who is calling: puts a Principal on every request (``request.state.principal``) before routes run.

Pure ASGI, like the other middlewares (``api/limits.py``): nothing is buffered and streaming responses
pass through untouched. With auth off every request is :data:`LOCAL`. With auth on, the open paths
below run as :data:`ANONYMOUS` (no scope at all) and everything else needs a valid key, sent as
``Authorization: Bearer <key>`` or ``X-API-Key: <key>``. The key is never logged: only its public id
reaches the usage records.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

from ragworks.auth.errors import InvalidApiKey, MissingApiKey
from ragworks.auth.principal import ANONYMOUS, LOCAL, Principal
from ragworks.auth.verifier import KeyVerifier
from ragworks.errors import Busy, Forbidden, RagworksError, Unauthorized
from ragworks.usage.context import note_api_key

# Pages and files that hold no data: probes, the API docs, and the dashboard's static shell (its data
# comes from /v1/admin/*, which needs a key like everything else).
OPEN_PATHS = frozenset(
    {"/health", "/ready", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json", "/ui"}
)
OPEN_PREFIXES = ("/docs/assets/", "/ui/")
METRICS_PATH = "/metrics"
MISSING_MESSAGE = "this request needs an API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"

_AUTHORIZATION = b"authorization"
_X_API_KEY = b"x-api-key"


def presented_key(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The key in ``Authorization: Bearer`` (preferred) or ``X-API-Key``; None when neither is sent.

    Raises:
        InvalidApiKey: an Authorization header of another scheme and no X-API-Key.
    """
    bearer = other_scheme = api_key = None
    for name, value in headers:
        lowered = name.lower()
        if lowered == _AUTHORIZATION:
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer":
                bearer = token.strip()
            else:
                other_scheme = scheme
        elif lowered == _X_API_KEY:
            api_key = value.decode("latin-1").strip()
    found = bearer or api_key
    if found is None and other_scheme is not None:
        raise InvalidApiKey(f"Authorization must be 'Bearer <key>', not {other_scheme[:20]!r}")
    return found


class AuthMiddleware:
    """Verifies the caller's key (``verifier``; None = auth off) and records who the caller is."""

    def __init__(self, app: ASGIApp, verifier: KeyVerifier | None, public_metrics: bool = False) -> None:
        self.app = app
        self.verifier = verifier
        self.public_metrics = public_metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        try:
            principal = await self._principal(scope)
        except RagworksError as error:
            await _refuse(scope, send, error)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)

    async def _principal(self, scope: Scope) -> Principal:
        if self.verifier is None:
            return LOCAL
        path: str = scope["path"]
        if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
            return ANONYMOUS
        if path == METRICS_PATH and self.public_metrics:
            return ANONYMOUS
        presented = presented_key(scope["headers"])
        if not presented:
            raise MissingApiKey(MISSING_MESSAGE)
        principal = await self.verifier.verify(presented)
        note_api_key(principal.key_id)
        if path == METRICS_PATH and not principal.is_operator:
            raise Forbidden("/metrics needs an admin API key (or auth.public_metrics = true)")
        return principal


async def _refuse(scope: Scope, send: Send, error: RagworksError) -> None:
    """Answer ``error`` in the one error shape (a WebSocket is closed as a policy violation)."""
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    body = json.dumps(error.to_dict()).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if isinstance(error, Unauthorized):
        challenge = b'Bearer error="invalid_token"' if isinstance(error, InvalidApiKey) else b"Bearer"
        headers.append((b"www-authenticate", challenge))
    elif isinstance(error, Busy):
        headers.append((b"retry-after", b"1"))
    await send({"type": "http.response.start", "status": error.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})
