"""Kafka adapter of the stream port (aiokafka): a consumer group member and an idempotent producer.

URL: ``kafka://host:port[,host2:port]`` (the bootstrap servers). The stream is the topic; the group is
the Kafka consumer group; the consumer name becomes the client id. A group new to the topic starts at
the topic's beginning. Topics are created by the broker on first use (``auto.create.topics.enable``);
create them beforehand where that is off, with the partition count the consumers need.

Delivery: offsets are committed by hand (``enable_auto_commit=False``). ``ack`` commits, per partition,
the offset after the longest run of acknowledged messages from the last commit on, so a crash re-delivers
what was not acknowledged and never skips it. Kafka has no per-message acknowledgement, so:

- a message acknowledged after an earlier one of its partition that was not is delivered again after
  a restart or rebalance (the commit cannot pass the earlier one);
- another consumer takes over a dead consumer's messages when the group rebalances (the broker's
  ``session_timeout_ms``), not after ``redeliver_after_s``;
- a live consumer gets its own fetched, unacknowledged messages back from ``fetch`` once they have been
  pending longer than ``redeliver_after_s`` (kept in this process: the broker does not know them).

A tombstone is a null value; the key is the Kafka key; headers are Kafka headers (values UTF-8).
Extra options: ``session_timeout_ms`` (int, default 10000).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, cast
from urllib.parse import urlsplit

from ragworks.engines.streams.base import SourceOptions, StreamMessage, StreamUnavailable


class KafkaConsumer(Protocol):
    """The part of ``aiokafka.AIOKafkaConsumer`` this adapter uses."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def getmany(self, *, timeout_ms: int, max_records: int | None) -> dict[Any, list[Any]]: ...

    async def commit(self, offsets: Mapping[Any, int]) -> None: ...

    def assignment(self) -> set[Any]: ...

    async def position(self, partition: Any) -> int: ...

    async def end_offsets(self, partitions: list[Any]) -> dict[Any, int]: ...

    async def beginning_offsets(self, partitions: list[Any]) -> dict[Any, int]: ...

    async def committed(self, partition: Any) -> int | None: ...

    def partitions_for_topic(self, topic: str) -> set[int] | None: ...


class KafkaProducer(Protocol):
    """The part of ``aiokafka.AIOKafkaProducer`` this adapter uses."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send_and_wait(
        self, topic: str, value: bytes | None, key: bytes | None, *, headers: list[tuple[str, bytes]]
    ) -> Any: ...


def _new_consumer(topic: str, **config: Any) -> KafkaConsumer:
    """Build an aiokafka consumer; tests replace this seam with an in-memory broker."""
    aiokafka = _import_aiokafka()
    consumer: KafkaConsumer = aiokafka.AIOKafkaConsumer(topic, **config)
    return consumer


def _new_producer(**config: Any) -> KafkaProducer:
    """Build an aiokafka producer; tests replace this seam with an in-memory broker."""
    aiokafka = _import_aiokafka()
    producer: KafkaProducer = aiokafka.AIOKafkaProducer(**config)
    return producer


def _import_aiokafka() -> Any:
    try:
        import aiokafka
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ImportError("the Kafka stream adapter needs aiokafka: install ragworks[kafka]") from exc
    return aiokafka


def _broker_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean the broker cannot serve us right now."""
    from aiokafka.errors import KafkaError

    return (KafkaError, OSError)


def bootstrap_servers(url: str) -> list[str]:
    """``kafka://a:9092,b:9092`` -> ``["a:9092", "b:9092"]``."""
    parts = urlsplit(url)
    if parts.scheme != "kafka" or not parts.netloc:
        raise ValueError(f"not a Kafka URL (kafka://host:port[,host:port]): {url!r}")
    return [server.strip() for server in parts.netloc.split(",") if server.strip()]


@dataclass(slots=True)
class _Pending:
    """A fetched message of one partition and whether it has been acknowledged."""

    message: StreamMessage
    delivered_at: float
    acked: bool = False


class KafkaSource:
    """One member of a Kafka consumer group reading one topic."""

    def __init__(self, url: str, stream: str, options: SourceOptions) -> None:
        self.stream = stream
        self.options = options
        self._servers = bootstrap_servers(url)
        self._consumer: KafkaConsumer | None = None
        # (topic, partition) -> offset -> pending message, in fetch (= offset) order
        self._pending: dict[tuple[str, int], dict[int, _Pending]] = {}

    async def start(self) -> None:
        """Join the group (from the topic's beginning when the group is new)."""
        consumer = _new_consumer(
            self.stream,
            bootstrap_servers=self._servers,
            group_id=self.options.group,
            client_id=self.options.consumer,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=int(str(self.options.extra.get("session_timeout_ms", 10_000))),
        )
        try:
            await consumer.start()
        except _broker_errors() as exc:
            await consumer.stop()
            raise StreamUnavailable(f"Kafka at {','.join(self._servers)}: {exc}") from exc
        self._consumer = consumer

    async def fetch(self, limit: int, wait_s: float) -> list[StreamMessage]:
        """Own messages pending past ``redeliver_after_s`` first, then new records (in offset order)."""
        consumer = self._started()
        self._forget_revoked(consumer.assignment())
        messages = self._overdue(limit)
        if len(messages) >= limit:
            return messages
        try:
            batches = await consumer.getmany(
                timeout_ms=0 if messages else int(wait_s * 1000), max_records=limit - len(messages)
            )
        except _broker_errors() as exc:
            raise StreamUnavailable(f"Kafka fetch from {self.stream}: {exc}") from exc
        now = time.monotonic()
        for partition, records in batches.items():
            pending = self._pending.setdefault((partition.topic, partition.partition), {})
            for record in records:
                if pending and record.offset <= next(reversed(pending)):
                    # the partition was reassigned to us and rewound to its committed offset
                    pending.clear()
                message = _message(record)
                pending[record.offset] = _Pending(message, now)
                messages.append(message)
        return messages

    async def ack(self, messages: Sequence[StreamMessage]) -> None:
        """Mark messages acknowledged and commit each partition's contiguous acknowledged prefix."""
        consumer = self._started()
        # a partition taken away by a rebalance is committed by its new owner, not by us
        self._forget_revoked(consumer.assignment())
        touched: set[tuple[str, int]] = set()
        for message in messages:
            topic, partition, offset = cast(tuple[str, int, int], message.receipt)
            pending = self._pending.get((topic, partition), {})
            if offset in pending:
                pending[offset].acked = True
                touched.add((topic, partition))
        next_offsets = {key: _committable(self._pending[key]) for key in touched}
        commits = {key: offset for key, offset in next_offsets.items() if offset is not None}
        if not commits:
            return
        offsets = {
            _topic_partition(topic, partition): offset for (topic, partition), offset in commits.items()
        }
        try:
            await consumer.commit(offsets)
        except _broker_errors() as exc:
            raise StreamUnavailable(f"Kafka commit on {self.stream}: {exc}") from exc
        for (topic, partition), offset in commits.items():
            pending = self._pending[(topic, partition)]
            for done in [o for o in pending if o < offset]:
                del pending[done]

    async def lag(self) -> int | None:
        """Records not yet fetched by the group: after this consumer's position on its partitions, after
        the group's committed offset (or the beginning) on the others; None while the topic is unknown."""
        consumer = self._started()
        assigned = consumer.assignment()
        partitions = [
            _topic_partition(self.stream, p) for p in sorted(consumer.partitions_for_topic(self.stream) or ())
        ]
        if not partitions:
            return None
        try:
            ends = await consumer.end_offsets(partitions)
            starts = await consumer.beginning_offsets(partitions)
            lag = 0
            for partition in partitions:
                if partition in assigned:
                    read = await consumer.position(partition)
                else:
                    committed = await consumer.committed(partition)
                    read = starts[partition] if committed is None else committed
                lag += max(0, ends[partition] - read)
        except _broker_errors() as exc:
            raise StreamUnavailable(f"Kafka offsets of {self.stream}: {exc}") from exc
        return lag

    async def close(self) -> None:
        """Leave the group; what was not committed is delivered again to whoever gets the partition."""
        consumer, self._consumer = self._consumer, None
        self._pending.clear()
        if consumer is not None:
            await consumer.stop()

    def _started(self) -> KafkaConsumer:
        if self._consumer is None:
            raise RuntimeError("KafkaSource.start() was not called")
        return self._consumer

    def _overdue(self, limit: int) -> list[StreamMessage]:
        """This consumer's fetched, unacknowledged messages pending past ``redeliver_after_s``."""
        now = time.monotonic()
        due: list[StreamMessage] = []
        for pending in self._pending.values():
            for entry in pending.values():
                if len(due) >= limit:
                    return due
                if not entry.acked and now - entry.delivered_at >= self.options.redeliver_after_s:
                    entry.message = replace(entry.message, deliveries=entry.message.deliveries + 1)
                    entry.delivered_at = now
                    due.append(entry.message)
        return due

    def _forget_revoked(self, assignment: set[Any]) -> None:
        """Drop what we track of partitions no longer ours: another member owns their commits now."""
        owned = {(tp.topic, tp.partition) for tp in assignment}
        for key in [key for key in self._pending if key not in owned]:
            del self._pending[key]


def _committable(pending: dict[int, _Pending]) -> int | None:
    """The offset to commit: the first unacknowledged fetched offset, or one past the last fetched when
    all are acknowledged; None when the first fetched offset is itself unacknowledged."""
    offsets = sorted(pending)
    if not offsets or not pending[offsets[0]].acked:
        return None
    for offset in offsets:
        if not pending[offset].acked:
            return offset
    return offsets[-1] + 1


def _topic_partition(topic: str, partition: int) -> Any:
    from aiokafka.structs import TopicPartition

    return TopicPartition(topic, partition)


def _message(record: Any) -> StreamMessage:
    headers = {name: bytes(value).decode("utf-8", "replace") for name, value in record.headers or ()}
    return StreamMessage(
        stream=record.topic,
        value=record.value,
        key=record.key,
        headers=headers,
        position=f"{record.partition}:{record.offset}",
        receipt=(record.topic, record.partition, record.offset),
    )


class KafkaPublisher:
    """An idempotent producer (``acks="all"``): ``publish`` returns once the record is replicated."""

    def __init__(self, url: str) -> None:
        self._servers = bootstrap_servers(url)
        self._producer: KafkaProducer | None = None

    async def start(self) -> None:
        """Connect to the cluster."""
        producer = _new_producer(bootstrap_servers=self._servers, acks="all", enable_idempotence=True)
        try:
            await producer.start()
        except _broker_errors() as exc:
            await producer.stop()
            raise StreamUnavailable(f"Kafka at {','.join(self._servers)}: {exc}") from exc
        self._producer = producer

    async def publish(
        self,
        stream: str,
        value: bytes | None,
        *,
        key: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> str:
        """Send one record and wait for the brokers' acknowledgement; returns ``partition:offset``."""
        if self._producer is None:
            raise RuntimeError("KafkaPublisher.start() was not called")
        encoded = [(name, text.encode()) for name, text in (headers or {}).items()]
        try:
            metadata = await self._producer.send_and_wait(stream, value, key, headers=encoded)
        except _broker_errors() as exc:
            raise StreamUnavailable(f"Kafka publish to {stream}: {exc}") from exc
        return f"{metadata.partition}:{metadata.offset}"

    async def close(self) -> None:
        """Flush what is in flight and disconnect."""
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()
