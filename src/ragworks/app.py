"""The FastAPI application factory."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from ragworks import __version__
from ragworks.api.cors import install_cors
from ragworks.api.docs import install_docs
from ragworks.api.errors import install_error_handlers
from ragworks.api.limits import BodySizeLimitMiddleware
from ragworks.api.rate_limit import install_rate_limits
from ragworks.api.routes import collections, documents, events, jobs, openai_compat, services, system
from ragworks.api.routes import keys as key_routes
from ragworks.api.routes import usage as usage_routes
from ragworks.api.schemas import ErrorResponse
from ragworks.api.timeouts import RequestTimeoutMiddleware
from ragworks.api.url_params import refuse_nul_characters
from ragworks.auth.middleware import AuthMiddleware
from ragworks.auth.wiring import key_verifier
from ragworks.config import Settings
from ragworks.container import Container
from ragworks.observability.middleware import RequestContextMiddleware
from ragworks.roles.embedded import build_embedded
from ragworks.streams.config import StreamsConfig
from ragworks.ui import routes as dashboard_routes

DESCRIPTION = """
Upload documents (PDF, DOCX, HWP/HWPX, HTML, Markdown, text in any encoding, JSON), watch the jobs that
index them, and search them with hybrid BM25 + vector retrieval in English and Korean.
Every error has the shape `{"error": {"code", "message", "details"}}`.
"""

ERRORS = {
    400: "Bad request",
    404: "Not found",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid request or unreadable document",
    429: "Too many requests (see Retry-After)",
    503: "Not ready yet",
    504: "The request ran past the server's time limit",
}


def create_app(
    settings: Settings | None = None,
    *,
    container: Container | None = None,
    workers: bool = True,
    freeze_heap: bool = False,
    streams: StreamsConfig | None = None,
) -> FastAPI:
    """Build the app on ``container`` (default: the embedded role on ``settings``); engines start in
    the lifespan, not here.

    With ``freeze_heap`` (what ``ragworks serve`` does) the objects alive once the engines have started
    are left out of the garbage collector's passes until shutdown: they live as long as the process, and
    a full pass over them (hundreds of thousands: torch, the model, every imported module) stalled
    every request in flight for up to 400 ms.

    ``streams`` (``ragworks serve --streams FILE``) are consumed in this process once the engines run.
    """
    if container is None:
        container = build_embedded(settings or Settings())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await container.start(workers=workers)
        consumers = None
        if streams is not None:
            from ragworks.streams.in_process import InProcessStreams

            consumers = InProcessStreams(streams, container)
            consumers.start()
        if freeze_heap:
            gc.collect()  # start-up garbage goes first, not into the frozen set
            gc.freeze()
        try:
            yield
        finally:
            if freeze_heap:
                gc.unfreeze()
            if consumers is not None:
                await consumers.stop()
            await container.stop()

    app = FastAPI(
        title="ragworks",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by install_docs with local assets, not from a CDN
        redoc_url=None,
        responses={code: {"model": ErrorResponse, "description": text} for code, text in ERRORS.items()},
        dependencies=[Depends(refuse_nul_characters)],  # 422 for NUL in any path or query parameter
    )
    app.state.container = container
    install_error_handlers(app)
    install_docs(app)
    for router in (system.router, collections.router, documents.router, jobs.router, events.router):
        app.include_router(router)
    app.include_router(services.build_router(container.registry))
    app.include_router(openai_compat.router)
    app.include_router(usage_routes.router)  # /v1/usage: rollups of the request log
    app.include_router(dashboard_routes.router)  # /ui and the /v1/admin endpoints it reads
    app.include_router(key_routes.router)  # /v1/admin/keys
    # Middlewares, innermost first: each sees what the ones added after it have done.
    server = container.settings.server
    app.add_middleware(RequestTimeoutMiddleware, timeout_s=server.request_timeout_s)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=server.max_upload_bytes)
    install_rate_limits(app, container.settings, container.metrics.registry)
    # API keys: sets the principal whose key the rate limits (inside) count against
    app.add_middleware(
        AuthMiddleware,
        verifier=key_verifier(container),
        public_metrics=container.settings.auth.public_metrics,
    )
    install_cors(app, container.settings.cors)  # outside auth and limits: their 401/429 get CORS headers
    app.add_middleware(RequestContextMiddleware, metrics=container.metrics)
    return app
