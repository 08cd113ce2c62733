"""The worker role of the scaled profile (``ragworks worker``): runs jobs from the shared queue."""

from __future__ import annotations

import logging
from wsgiref.simple_server import WSGIServer

import anyio
from prometheus_client import CollectorRegistry, start_http_server

from ragworks.config import Settings
from ragworks.container import Container
from ragworks.roles.parts import build_core, build_search
from ragworks.roles.shared import require_shared_engines
from ragworks.roles.signals import run_until_signalled

log = logging.getLogger(__name__)


def build_worker_role(settings: Settings) -> Container:
    """Store, index, models, services and the job lanes; no HTTP.

    A starting worker takes back only jobs whose lease expired: the other workers are alive.

    Raises:
        ValueError: the settings name engines that only one process can use.
    """
    require_shared_engines(settings, "worker")
    core = build_core(settings)
    return Container(core, build_search(core), run_jobs=True, exclusive=False)


async def run_worker(settings: Settings, stop: anyio.Event) -> None:
    """Run jobs until ``stop`` is set; jobs in flight keep their leases for the next worker."""
    container = build_worker_role(settings)
    await container.start()
    exporter = None
    try:
        exporter = serve_worker_metrics(settings, container.metrics.registry)  # OSError: port taken
        log.info("worker started", extra={"owner": container.worker.owner if container.worker else None})
        await stop.wait()
    finally:
        if exporter is not None:
            exporter.shutdown()
            exporter.server_close()
        await container.stop()
        log.info("worker stopped")


def serve_worker_metrics(settings: Settings, registry: CollectorRegistry) -> WSGIServer | None:
    """Serve the worker's metrics on ``jobs.metrics_port`` (at ``server.host``) for Prometheus to
    scrape; ``None`` when the port is 0. A worker has no HTTP server of its own otherwise."""
    port = settings.jobs.metrics_port
    if not port:
        return None
    server, _thread = start_http_server(port, addr=settings.server.host, registry=registry)
    log.info("worker metrics served", extra={"host": settings.server.host, "port": port})
    return server


def serve_worker(settings: Settings) -> None:
    """Run one worker process until SIGINT or SIGTERM."""
    run_until_signalled(lambda stop: run_worker(settings, stop))
