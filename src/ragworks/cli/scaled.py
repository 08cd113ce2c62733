"""Commands of the scaled profile's processes: ``ragworks api`` and, beside it, ``ragworks worker``."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ragworks.config import Settings


def _shared_settings(role: str) -> Settings:
    """The settings, checked for engines that several processes can share; exits 2 with the reason."""
    from ragworks.roles.shared import require_shared_engines

    settings = Settings()
    try:
        require_shared_engines(settings, role)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    return settings


def api(
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    workers: Annotated[int, typer.Option(min=1, help="HTTP processes sharing the port.")] = 1,
) -> None:
    """Serve the HTTP API of the scaled profile, without job workers (run `ragworks worker` beside it).

    Settings come from the environment (RAGWORKS_STORE__URL, RAGWORKS_INDEX__PROVIDER, ...), read
    again by each process.
    """
    import uvicorn

    settings = _shared_settings("api")
    uvicorn.run(
        "ragworks.roles.api:create_api_app",
        factory=True,
        host=host or settings.server.host,
        port=port or settings.server.port,
        workers=workers,
        log_config=None,
        access_log=False,
    )


def worker(
    concurrency: Annotated[
        int, typer.Option(min=1, help="Worker processes, each restarted (with backoff) when it crashes.")
    ] = 1,
) -> None:
    """Run jobs from the shared queue of the scaled profile, in one process or N supervised ones.

    SIGTERM or SIGINT stops the workers cleanly: they stop leasing, and jobs still in flight keep their
    leases, so another worker runs them again once the leases expire.
    """
    from ragworks.observability.logging import configure_logging

    settings = _shared_settings("worker")
    configure_logging(settings.log_level, settings.log_json)
    if concurrency == 1:
        from ragworks.roles.worker import serve_worker

        serve_worker(settings)
        return

    from ragworks.jobs.callbacks import load_secret
    from ragworks.stack import StackError
    from ragworks.stack.process import ProcessSpec
    from ragworks.stack.supervisor import Supervisor

    load_secret(settings)  # created once here, not raced by N processes
    argv = [sys.executable, "-m", "ragworks", "worker"]
    supervisor = Supervisor([ProcessSpec(f"worker-{n}", argv) for n in range(1, concurrency + 1)])
    supervisor.stop_on_signals()
    try:
        supervisor.start()
    except StackError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    supervisor.run()
