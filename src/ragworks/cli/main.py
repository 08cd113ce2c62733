"""The ``ragworks`` command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ragworks.cli import (
    backup_command,
    client_commands,
    consume,
    eval_command,
    keys,
    new_service,
    scaled,
    stack_commands,
)
from ragworks.cli.model_serve import model_serve
from ragworks.cli.usage_command import usage as usage_command

app = typer.Typer(help="ragworks: ingest documents, search them, serve AI services.", no_args_is_help=True)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Where the database, index and uploads live.")] = None,
    streams: Annotated[
        Path | None, typer.Option(help="Also consume the streams this file names (see `ragworks consume`).")
    ] = None,
) -> None:
    """Run the server with in-process workers on the embedded engines."""
    import sys

    import uvicorn

    from ragworks.app import create_app
    from ragworks.config import Settings
    from ragworks.observability.logging import configure_logging

    stream_config = None
    if streams is not None:
        from ragworks.streams.config import ConfigError, load_streams_config

        try:
            stream_config = load_streams_config(streams)
        except ConfigError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
    settings = Settings()
    if data_dir is not None:
        settings.data_dir = data_dir
    server = settings.server.model_copy(
        update={k: v for k, v in (("host", host), ("port", port)) if v is not None}
    )
    settings.server = server
    configure_logging(settings.log_level, settings.log_json)
    sys.setswitchinterval(server.switch_interval_ms / 1000)
    app = create_app(settings, freeze_heap=server.freeze_heap, streams=stream_config)
    uvicorn.run(app, host=server.host, port=server.port, log_config=None, access_log=False)


app.command("api")(scaled.api)
app.command("worker")(scaled.worker)
app.command("consume")(consume.consume)
app.command("up")(stack_commands.up)
app.command("status")(stack_commands.status)
app.command("down")(stack_commands.down)
app.command("logs")(stack_commands.logs)
app.command("ingest")(client_commands.ingest)
app.command("search")(client_commands.search)
app.command("jobs")(client_commands.jobs)
app.command("usage")(usage_command)
app.add_typer(keys.app, name="keys")
app.command("eval")(eval_command.run_eval)
app.command("new-service")(new_service.new_service)
app.command("model-serve")(model_serve)
app.command("backup")(backup_command.backup)
app.command("restore")(backup_command.restore)
