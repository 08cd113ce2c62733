"""Liveness, readiness and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

router = APIRouter(tags=["system"])


@router.get("/health", summary="Liveness: the process answers")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", summary="Readiness: store open, models loaded, index open")
async def ready(request: Request) -> JSONResponse:
    container = request.app.state.container
    if not container.ready:
        return JSONResponse({"status": "starting"}, status_code=503)
    return JSONResponse({"status": "ready", "embedder": container.embedder.name})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(request: Request) -> Response:
    # a plain def: rendering queries the store, so FastAPI runs it in the thread pool
    body, content_type = request.app.state.container.metrics.render()
    return Response(body, media_type=content_type)
