"""``ragworks consume``: documents and service requests in from Redis Streams, NATS, Kafka, Pub/Sub and
database change feeds (docs/streams.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ragworks.streams.config import ConfigError, StreamsConfig, load_streams_config


def consume(
    config: Annotated[Path, typer.Option("--config", "-c", help="The streams file.")] = Path("streams.toml"),
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what --message would become; connect to nothing.")
    ] = False,
    message: Annotated[
        str | None, typer.Option(help="--dry-run: the message body: JSON text, @FILE, or - for stdin.")
    ] = None,
    key: Annotated[str | None, typer.Option(help="--dry-run: the message key.")] = None,
    source: Annotated[
        str | None, typer.Option(help="--dry-run: the source's name (default: the first).")
    ] = None,
) -> None:
    """Consume the streams the config file names until SIGINT or SIGTERM.

    Each message is acknowledged only once its document is accepted (or its delete recorded, its
    service call enqueued, or the message dead-lettered with the reason), so a crash re-delivers and
    never loses. Store settings come from the environment (RAGWORKS_STORE__URL, ...), as for
    `ragworks worker`.
    """
    try:
        streams = load_streams_config(config)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if dry_run:
        _dry_run(streams, source, message, key)
        return
    _serve(streams)


def _serve(streams: StreamsConfig) -> None:
    from ragworks.config import Settings
    from ragworks.observability.logging import configure_logging
    from ragworks.roles.consumer import build_consumer, require_shared_store
    from ragworks.roles.signals import run_until_signalled
    from ragworks.streams.metrics import StreamMetrics
    from ragworks.streams.runner import consume as consume_streams

    settings = Settings()
    try:
        require_shared_store(settings)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    configure_logging(settings.log_level, settings.log_json)
    role = build_consumer(settings)
    role.start()
    try:
        run_until_signalled(lambda stop: consume_streams(streams, role.intake, stop, StreamMetrics()))
    except ValueError as exc:  # an unknown scheme, a dead-letter stream on a change feed
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        role.stop()


def _dry_run(streams: StreamsConfig, name: str | None, text: str | None, key: str | None) -> None:
    from ragworks.engines.streams.base import StreamMessage
    from ragworks.streams.mapping import Unmappable, map_message

    chosen = next((s for s in streams.sources if name is None or s.name == name), None)
    if chosen is None:
        names = ", ".join(s.name for s in streams.sources)
        typer.echo(f"error: no source named {name!r} (there are: {names})", err=True)
        raise typer.Exit(2)
    body = _read_message(text)
    sample = StreamMessage(
        stream=chosen.stream, value=body, key=key.encode() if key is not None else None, position="dry-run"
    )
    try:
        action = map_message(sample, chosen)
    except Unmappable as exc:
        typer.echo(
            json.dumps(
                {"source": chosen.name, "dead_letter": {"stage": exc.stage, "error": str(exc)}}, indent=2
            )
        )
        raise typer.Exit(1) from None
    typer.echo(json.dumps({"source": chosen.name, **_describe(action)}, indent=2, ensure_ascii=False))


def _read_message(text: str | None) -> bytes | None:
    if text is None:
        typer.echo("error: --dry-run needs --message (JSON text, @FILE, or - for stdin)", err=True)
        raise typer.Exit(2)
    if text == "-":
        return sys.stdin.buffer.read()
    if text.startswith("@"):
        return Path(text[1:]).read_bytes()
    return text.encode()


def _describe(action: Any) -> dict[str, Any]:
    from ragworks.streams.mapping import Delete, Upsert

    if isinstance(action, Upsert):
        doc = action.document
        shown = doc.text if len(doc.text) <= 300 else doc.text[:300] + "…"
        return {
            "action": "upsert",
            "collection": action.collection,
            "document": {
                "id": doc.id,
                "title": doc.title,
                "text": shown,
                "text_chars": len(doc.text),
                "metadata": doc.metadata,
            },
        }
    if isinstance(action, Delete):
        return {"action": "delete", "collection": action.collection, "document_id": action.document_id}
    return {
        "action": "service",
        "service": action.service,
        "input": action.input,
        "correlation_id": action.correlation_id,
    }
