"""Which adapter serves each stream URL scheme (one line per broker); adapters import their client
libraries only when chosen."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from urllib.parse import urlsplit

from ragworks.engines.streams.base import SourceOptions, StreamPublisher, StreamSource

# scheme -> (module, source class, publisher class or None for read-only change feeds)
ADAPTERS: dict[str, tuple[str, str, str | None]] = {
    "redis": ("ragworks.engines.streams.redis_streams", "RedisStreamSource", "RedisStreamPublisher"),
    "rediss": ("ragworks.engines.streams.redis_streams", "RedisStreamSource", "RedisStreamPublisher"),
    "nats": ("ragworks.engines.streams.nats_jetstream", "JetStreamSource", "JetStreamPublisher"),
    "kafka": ("ragworks.engines.streams.kafka", "KafkaSource", "KafkaPublisher"),
    "pubsub": ("ragworks.engines.streams.pubsub", "PubSubSource", "PubSubPublisher"),
    "postgresql": ("ragworks.engines.streams.pg_changes", "TableChangeSource", None),
    "mongodb": ("ragworks.engines.streams.mongo_changes", "ChangeStreamSource", None),
}


def _adapter(url: str) -> tuple[str, str, str | None]:
    scheme = urlsplit(url).scheme.split("+", 1)[0]
    if scheme not in ADAPTERS:
        known = ", ".join(f"{s}://" for s in sorted(ADAPTERS))
        raise ValueError(f"no stream adapter for '{scheme}://' (known: {known})")
    return ADAPTERS[scheme]


def open_source(url: str, stream: str, options: SourceOptions) -> StreamSource:
    """A source reading ``stream`` at the broker ``url`` (not yet started)."""
    module, source, _ = _adapter(url)
    factory: Callable[[str, str, SourceOptions], StreamSource] = getattr(import_module(module), source)
    return factory(url, stream, options)


def open_publisher(url: str) -> StreamPublisher:
    """A publisher to the broker ``url`` (not yet started).

    Raises:
        ValueError: the URL names a change feed, which cannot be published to.
    """
    module, _, publisher = _adapter(url)
    if publisher is None:
        raise ValueError(f"'{urlsplit(url).scheme}://' is a change feed: it can be read, not published to")
    factory: Callable[[str], StreamPublisher] = getattr(import_module(module), publisher)
    return factory(url)
