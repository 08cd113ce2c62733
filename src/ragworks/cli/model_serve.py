"""``ragworks model-serve``: the embedder (and optionally the LLM) served over gRPC and HTTP."""

from __future__ import annotations

from typing import Annotated

import typer


def model_serve(
    host: Annotated[str | None, typer.Option(help="Interface both servers listen on.")] = None,
    grpc_port: Annotated[
        int | None, typer.Option(help="Port of the gRPC ModelService (default 50051).")
    ] = None,
    http_port: Annotated[
        int | None, typer.Option(help="Port of the OpenAI-compatible HTTP API (default 8090).")
    ] = None,
    llm: Annotated[
        bool | None, typer.Option("--llm/--no-llm", help="Also serve the LLM that llm.provider names.")
    ] = None,
) -> None:
    """Serve the embedder (embed.provider) and, with --llm, the LLM to other processes.

    gRPC (ragworks.model.v1.ModelService, grpc.health.v1) and OpenAI-compatible HTTP (/v1/embeddings,
    /v1/completions, /metrics) share one dynamic batcher. Other settings: RAGWORKS_MODEL_SERVICE__*
    (see docs/model-service.md). SIGTERM stops it after the calls in flight.
    """
    import asyncio
    import sys

    from ragworks.config import Settings
    from ragworks.observability.logging import configure_logging
    from ragworks.roles.model_service import NOT_SERVABLE, run_model_service

    settings = Settings()
    overrides = {"host": host, "grpc_port": grpc_port, "http_port": http_port, "serve_llm": llm}
    settings.model_service = settings.model_service.model_copy(
        update={key: value for key, value in overrides.items() if value is not None}
    )
    if settings.embed.provider in NOT_SERVABLE:
        typer.echo(f"error: embed.provider = {settings.embed.provider!r} cannot be served", err=True)
        raise typer.Exit(2)
    configure_logging(settings.log_level, settings.log_json)
    # as in `ragworks serve`: the event loop and the embedder's query thread hand the GIL to each other
    # on every query, and each hand-off may wait up to the switch interval (5 ms by default)
    sys.setswitchinterval(settings.server.switch_interval_ms / 1000)
    asyncio.run(run_model_service(settings))
