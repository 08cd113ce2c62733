"""One model service process: both servers up at once, models loaded behind them, a graceful stop.

Order of events: the gRPC server (health NOT_SERVING) and the HTTP app listen first, so clients see
UNAVAILABLE / 503 rather than a refused connection while the models load in a thread; then the batcher
starts, health says SERVING and "model service started" is logged. On SIGTERM or SIGINT: health says
NOT_SERVING, both servers stop taking new calls and finish those in flight, the batcher drains, exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Generator

import uvicorn

from ragworks.config import ModelServiceSettings
from ragworks.model_service.core import ModelServiceCore, ServedModels
from ragworks.model_service.grpc_server import HealthStatus, grpc_server
from ragworks.model_service.http_app import create_http_app
from ragworks.model_service.metrics import ModelServiceMetrics

log = logging.getLogger(__name__)
DRAIN_TIMEOUT_S = 30.0


class _HttpServer(uvicorn.Server):
    """uvicorn without its own signal handling: the runner stops it (and re-raising SIGTERM after a
    graceful stop, as uvicorn does, would end the process with a signal instead of exit status 0)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def serve_models(settings: ModelServiceSettings, load: Callable[[], ServedModels]) -> None:
    """Serve the models ``load`` returns (run in a thread) until SIGTERM or SIGINT.

    Raises:
        OSError: a port cannot be bound.
        Exception: whatever ``load`` raised (the servers are stopped first).
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    core = ModelServiceCore(settings, ModelServiceMetrics())
    health = HealthStatus()
    models: ServedModels | None = None
    async with grpc_server(core, health, settings.host, settings.grpc_port) as (grpc, grpc_port):
        http = _HttpServer(
            uvicorn.Config(
                create_http_app(core),
                host=settings.host,
                port=settings.http_port,
                log_config=None,
                access_log=False,
                lifespan="off",
            )
        )
        http_task = asyncio.create_task(http.serve(), name="model-service-http")
        try:
            models = await _load_unless_stopped(load, stop)
            if models is not None:
                await core.attach(models)
                await health.set_serving(True)
                log.info(
                    "model service started",
                    extra={
                        "grpc_port": grpc_port,
                        "http_port": settings.http_port,
                        "model": models.embedder.name,
                        "llm": models.llm.model if models.llm is not None else None,
                    },
                )
                await stop.wait()
            log.info("model service stopping")
            await health.shutting_down()
            await grpc.stop(grace=DRAIN_TIMEOUT_S)  # no new calls; the ones in flight finish
        finally:
            http.should_exit = True
            await http_task
            await core.close(DRAIN_TIMEOUT_S)
            if models is not None:
                _close(models)
    log.info("model service stopped")


async def _load_unless_stopped(load: Callable[[], ServedModels], stop: asyncio.Event) -> ServedModels | None:
    """The loaded models, or None when a stop came first (the loading thread is left to finish)."""
    loading = asyncio.ensure_future(asyncio.to_thread(load))
    stopping = asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait({loading, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if loading in done:
        return loading.result()
    loading.add_done_callback(lambda task: task.exception())  # read it, so nothing is logged as lost
    return None


def _close(models: ServedModels) -> None:
    close_embedder = getattr(models.embedder, "close", None)
    if callable(close_embedder):
        close_embedder()
    if models.llm is not None:
        models.llm.close()
