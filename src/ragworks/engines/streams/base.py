"""The stream port: read messages with at-least-once delivery, acknowledge them, publish new ones.

Every broker adapter gives the same guarantees, which ``ragworks.testing.stream_contract`` checks:

- A message fetched and not acknowledged is delivered again: to the same consumer name after a restart,
  and to another consumer of the group once it has been pending longer than ``redeliver_after_s`` (the
  first consumer died). ``deliveries`` counts the deliveries where the broker knows (1 on the first).
- A message acknowledged is not delivered again to the group.
- Order is kept per stream (per partition on Kafka, per ordering key on Pub/Sub) for one consumer.
- A tombstone (a message with no value: Kafka's null value, Redis/NATS without a body) arrives with
  ``value = None``; keys and headers arrive as they were published.

Consumers acknowledge only after what a message asked for is durable, so a crash anywhere re-delivers
and never loses; the consumer makes re-delivery harmless (same id and content = unchanged).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class StreamMessage:
    """One delivered message.

    Attributes:
        stream: the stream, subject or topic it came from.
        value: the body; None for a tombstone.
        key: the message key (Kafka key, Pub/Sub ordering key, a ``key`` field elsewhere), if any.
        headers: string headers as published.
        position: where it sits in its stream, for dead-letter headers and logs: a Redis entry id
            (``1700000000000-0``), a JetStream stream sequence, ``partition:offset`` on Kafka, a Pub/Sub
            message id.
        deliveries: how many times it has been delivered, this time included (1 when unknown).
        receipt: what the adapter needs to acknowledge it; opaque to callers.
    """

    stream: str
    value: bytes | None
    key: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    position: str = ""
    deliveries: int = 1
    receipt: object = None


@runtime_checkable
class StreamSource(Protocol):
    """A consumer of one stream in a named group (Redis consumer group, JetStream durable consumer,
    Kafka consumer group, Pub/Sub subscription)."""

    async def start(self) -> None:
        """Connect, and create the group (from the stream's start) and the stream where missing."""
        ...

    async def fetch(self, limit: int, wait_s: float) -> list[StreamMessage]:
        """Up to ``limit`` messages: first those delivered to this consumer before and never
        acknowledged, then messages other consumers left pending past ``redeliver_after_s``, then new
        ones; waits up to ``wait_s`` when there are none."""
        ...

    async def ack(self, messages: Sequence[StreamMessage]) -> None:
        """Acknowledge messages fetched by this source (they will not be delivered again)."""
        ...

    async def lag(self) -> int | None:
        """Messages in the stream that the group has not yet been delivered, where the broker says."""
        ...

    async def close(self) -> None:
        """Disconnect; unacknowledged messages stay pending for redelivery."""
        ...


@runtime_checkable
class StreamPublisher(Protocol):
    """Appends messages to streams (results, dead letters, events)."""

    async def start(self) -> None:
        """Connect."""
        ...

    async def publish(
        self,
        stream: str,
        value: bytes | None,
        *,
        key: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> str:
        """Append one message durably (the broker has acknowledged it) and return its position."""
        ...

    async def close(self) -> None:
        """Flush and disconnect."""
        ...


@dataclass(frozen=True, slots=True)
class SourceOptions:
    """How a source joins its stream.

    Attributes:
        group: the consumer group / durable consumer / subscription name.
        consumer: this consumer's name in the group; the same name after a restart gets back the
            messages it had not acknowledged.
        redeliver_after_s: how long a message may stay unacknowledged by another consumer before this
            one takes it over (Redis XAUTOCLAIM min idle time, JetStream ack wait, Pub/Sub ack deadline).
        extra: adapter-specific settings from the source's configuration (documented per adapter).
    """

    group: str = "ragworks"
    consumer: str = "ragworks-1"
    redeliver_after_s: float = 60.0
    extra: Mapping[str, object] = field(default_factory=dict)


class StreamUnavailable(Exception):
    """The broker cannot be reached or refused the operation; the caller retries later."""
