"""Fixtures: JSON logging captured from stderr, and a tiny FastAPI app behind the middleware."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import anyio.to_thread
import pytest
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient

from ragworks.observability.logging import _NOISY_LOGGERS, configure_logging
from ragworks.observability.metrics import Metrics
from ragworks.observability.middleware import RequestContextMiddleware

_TOUCHED_LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access", *_NOISY_LOGGERS)

LogLines = Callable[[], list[dict[str, Any]]]


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Undo configure_logging's changes to process-wide loggers after each test."""
    saved = [
        (lg, lg.handlers[:], lg.level, lg.propagate, lg.disabled)
        for lg in (logging.getLogger(name) for name in _TOUCHED_LOGGERS)
    ]
    yield
    for lg, handlers, level, propagate, disabled in saved:
        lg.handlers[:] = handlers
        lg.setLevel(level)
        lg.propagate = propagate
        lg.disabled = disabled


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> LogLines:
    """Configure JSON logging at INFO and return a reader of the lines written to stderr so far."""
    configure_logging("INFO", json_output=True)

    def read() -> list[dict[str, Any]]:
        return [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]

    return read


def build_app(metrics: Metrics, *, with_middleware: bool = True) -> FastAPI:
    """A small app with one route per behaviour the middleware must handle."""
    app = FastAPI()
    log = logging.getLogger("tests.app")

    @app.get("/v1/jobs/{job_id}")
    async def get_job(job_id: str) -> dict[str, str]:
        log.info("looking up job", extra={"job_id": job_id})
        return {"id": job_id}

    @app.get("/threaded")
    async def threaded() -> dict[str, bool]:
        await anyio.to_thread.run_sync(lambda: log.info("from worker thread"))
        return {"ok": True}

    @app.get("/sync")
    def sync_route() -> dict[str, bool]:
        log.info("from sync route")
        return {"ok": True}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def body() -> Any:
            for part in (b"a", b"b", b"c"):
                yield part

        return StreamingResponse(body(), media_type="text/plain")

    if with_middleware:
        app.add_middleware(RequestContextMiddleware, metrics=metrics)
    return app


@pytest.fixture
def make_app() -> Callable[..., FastAPI]:
    """``build_app`` for tests that assemble the middleware themselves."""
    return build_app


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def client(metrics: Metrics) -> Iterator[TestClient]:
    with TestClient(build_app(metrics), raise_server_exceptions=False) as test_client:
        yield test_client
