"""The consumer's TOML file (``ragworks consume --config streams.toml``): which streams to read and how
their messages become documents or service calls. docs/streams.md documents every key with examples.

```toml
[consumer]
max_queue_depth = 5000            # pause while more ingest jobs than this wait

[[sources]]
name = "articles"
url = "redis://127.0.0.1:6379/0"
stream = "articles"
collection = "news"
dead_letter = "articles.dlq"
[sources.fields]
id = "article_id"
text = "body"
metadata = ["author", "tags"]
```
"""

from __future__ import annotations

import os
import socket
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ragworks.services.collections import NAME as COLLECTION_NAME


class ConfigError(ValueError):
    """The streams file is missing, is not TOML, or has an unknown key or a bad value (named)."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _default_consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class ConsumerSection(_Section):
    """``[consumer]``: batching, back-pressure and metrics, for every source."""

    name: str = Field(
        default_factory=lambda: os.environ.get("RAGWORKS_CONSUMER_NAME") or "ragworks-consumer",
        min_length=1,
        description="This consumer's name in each group. A restarted consumer with the same name gets "
        "back the messages it had not acknowledged; run several consumers under different names.",
    )
    batch: int = Field(100, ge=1, le=10_000, description="Messages fetched (and accepted) at once.")
    wait_s: float = Field(1.0, gt=0, le=60, description="How long one fetch waits for messages.")
    redeliver_after_s: float = Field(
        60.0, gt=0, description="A message another consumer left unacknowledged this long is taken over."
    )
    max_queue_depth: int = Field(
        10_000,
        ge=1,
        description="Back-pressure: consumption pauses while more ingest jobs than this wait in the queue.",
    )
    retry_delay_s: float = Field(
        1.0, gt=0, description="First pause after a broker or store error (doubles up to 30 s)."
    )
    metrics_port: int = Field(
        0, ge=0, le=65535, description="Serve Prometheus metrics on this port (0: off)."
    )


class FieldMap(_Section):
    """``[sources.fields]``: where each document field is in a message (dotted paths into the JSON
    object; ``$key`` is the message key)."""

    id: str = Field("id", description="The document id; `$key` takes the message key.")
    title: str | None = Field("title", description="The title (optional in messages).")
    text: str = Field("text", description="The text to index (required).")
    metadata: list[str] | Literal["*"] = Field(
        "*",
        description="Fields copied to the document's metadata; `*`: every top-level field not mapped "
        "to id, title, text, op or collection.",
    )
    op: str | None = Field(
        "op", description='A field whose value "delete" deletes the document; tombstones delete too.'
    )
    collection: str | None = Field(
        None, description="A field naming the collection; unset: the source's `collection`."
    )


class SourceSection(_Section):
    """``[[sources]]``: one stream."""

    name: str = Field("", description="A label for logs and metrics; default: the stream.")
    url: str = Field(description="The broker: redis://, nats://, kafka://, pubsub:// or a database.")
    stream: str = Field(min_length=1, description="Stream, subject, topic or table.")
    group: str = Field("ragworks", min_length=1, description="Consumer group / durable / subscription.")
    kind: Literal["documents", "services"] = Field(
        "documents", description="`documents`: messages are documents; `services`: service requests."
    )
    collection: str | None = Field(
        None, pattern=COLLECTION_NAME.pattern, description="Target collection of `documents` sources."
    )
    create_collection: bool = Field(True, description="Create the collection when it does not exist.")
    tenant: str = Field(
        "default", min_length=1, max_length=64, description="The tenant that owns collections it creates."
    )
    fields: FieldMap = FieldMap()
    results: str | None = Field(None, description="`services`: the stream results are published to.")
    dead_letter: str | None = Field(
        None,
        description="Stream (on the same broker) for messages that cannot be handled; unset: "
        "they are logged, counted and acknowledged.",
    )
    options: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="Adapter settings (docs/streams.md lists them per broker)."
    )

    @model_validator(mode="after")
    def _check(self) -> SourceSection:
        if not self.name:
            self.name = self.stream
        if self.kind == "documents" and self.collection is None and self.fields.collection is None:
            raise ValueError("a documents source needs `collection` or `fields.collection`")
        if self.kind == "services" and not self.results:
            raise ValueError("a services source needs `results` (the stream its results go to)")
        return self


class StreamsConfig(_Section):
    """The whole file."""

    consumer: ConsumerSection = ConsumerSection()
    sources: list[SourceSection] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> StreamsConfig:
        names = [s.name for s in self.sources]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"source names must be unique: {', '.join(duplicates)}")
        return self


def load_streams_config(path: Path) -> StreamsConfig:
    """The streams file at ``path``.

    Raises:
        ConfigError: missing, not TOML, or invalid (each problem named with its key).
    """
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        return StreamsConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(file)'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}") from None
