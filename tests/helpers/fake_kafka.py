"""An in-memory Kafka cluster behind the aiokafka consumer and producer methods the Kafka adapter calls.

It stands in because a real Kafka broker cannot run on this machine (no package registry we can reach
ships one). The same contract suite runs against a real broker when ``RAGWORKS_TEST_KAFKA``
(``host:port``) is set (tests/engines/streams/test_kafka.py).

Where the contract looks it behaves as Kafka does: topics are created on first use (one partition
unless ``create_topic`` says otherwise); records keep their offsets; a consumer group's committed
offsets outlive its consumers, so a new consumer starts at the committed offset (or the beginning) and
gets again whatever was fetched and not committed; every join or leave rebalances the group (partitions
dealt round-robin over the members sorted by client id, as aiokafka's round-robin assignor does with
its member ids) and rewinds every member to the committed offsets; a commit of a partition the consumer
does not own fails. The returned records and metadata are aiokafka's own classes.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Mapping
from typing import Any

import anyio
from aiokafka.errors import CommitFailedError, KafkaConnectionError
from aiokafka.structs import ConsumerRecord, RecordMetadata, TopicPartition


class FakeKafkaCluster:
    """Topics, partitions and consumer groups of one pretend cluster."""

    def __init__(self) -> None:
        self.partitions: dict[str, list[list[ConsumerRecord[bytes, bytes]]]] = {}
        self.committed: dict[tuple[str, TopicPartition], int] = {}
        self.members: dict[str, list[FakeConsumer]] = {}
        self.reachable = True
        self._round_robin = 0

    def create_topic(self, topic: str, partitions: int = 1) -> None:
        """Create ``topic`` with ``partitions`` partitions (what a topic made on first use gets: 1)."""
        self.partitions.setdefault(topic, [[] for _ in range(partitions)])

    def consumer(self, topic: str, **config: Any) -> FakeConsumer:
        """Stands in for ``aiokafka.AIOKafkaConsumer(topic, **config)``."""
        return FakeConsumer(self, topic, config)

    def producer(self, **config: Any) -> FakeProducer:
        """Stands in for ``aiokafka.AIOKafkaProducer(**config)``."""
        return FakeProducer(self, config)

    def append(
        self, topic: str, value: bytes | None, key: bytes | None, headers: list[tuple[str, bytes]]
    ) -> RecordMetadata:
        """Append a record (partitioned by key, round-robin without one) and return its metadata."""
        self.create_topic(topic)
        partitions = self.partitions[topic]
        if key is None:
            self._round_robin += 1
            partition = self._round_robin % len(partitions)
        else:
            partition = zlib.crc32(key) % len(partitions)
        log = partitions[partition]
        timestamp = int(time.time() * 1000)
        record: ConsumerRecord[bytes, bytes] = ConsumerRecord(
            topic=topic,
            partition=partition,
            offset=len(log),
            timestamp=timestamp,
            timestamp_type=0,
            key=key,
            value=value,
            checksum=None,
            serialized_key_size=len(key or b""),
            serialized_value_size=len(value or b""),
            headers=tuple(headers),
        )
        log.append(record)
        tp = TopicPartition(topic, partition)
        return RecordMetadata(topic, partition, tp, record.offset, timestamp, 0, 0)

    def join(self, consumer: FakeConsumer) -> None:
        self.members.setdefault(consumer.group, []).append(consumer)
        self._rebalance(consumer.group)

    def leave(self, consumer: FakeConsumer) -> None:
        members = self.members.get(consumer.group, [])
        if consumer in members:
            members.remove(consumer)
            self._rebalance(consumer.group)

    def _rebalance(self, group: str) -> None:
        members = sorted(self.members.get(group, []), key=lambda member: member.client_id)
        for member in members:
            member.assigned = {}
        for index, partition in enumerate(self._group_partitions(members)):
            member = members[index % len(members)]
            member.assigned[partition] = self.committed.get((group, partition), 0)

    def _group_partitions(self, members: list[FakeConsumer]) -> list[TopicPartition]:
        topics = sorted({member.topic for member in members})
        return [TopicPartition(t, p) for t in topics for p in range(len(self.partitions.get(t, [])))]


class FakeConsumer:
    """The ``AIOKafkaConsumer`` methods the adapter calls."""

    def __init__(self, cluster: FakeKafkaCluster, topic: str, config: Mapping[str, Any]) -> None:
        self.cluster, self.topic, self.config = cluster, topic, dict(config)
        self.group = str(config["group_id"])
        self.client_id = str(config.get("client_id", "aiokafka"))
        # partition -> position (the offset of the next record to return)
        self.assigned: dict[TopicPartition, int] = {}

    async def start(self) -> None:
        if not self.cluster.reachable:
            raise KafkaConnectionError("Unable to bootstrap from the fake cluster")
        assert self.config.get("enable_auto_commit") is False, "the adapter commits by hand"
        self.cluster.create_topic(self.topic)
        self.cluster.join(self)

    async def stop(self) -> None:
        self.cluster.leave(self)

    async def getmany(self, *, timeout_ms: int, max_records: int | None) -> dict[TopicPartition, list[Any]]:
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            if not self.cluster.reachable:
                raise KafkaConnectionError("the fake cluster is unreachable")
            batches = self._take(max_records or 500)
            if batches or time.monotonic() >= deadline:
                return batches
            await anyio.sleep(0.01)  # a long poll: new records are looked for until the timeout

    def _take(self, max_records: int) -> dict[TopicPartition, list[Any]]:
        batches: dict[TopicPartition, list[Any]] = {}
        left = max_records
        for partition, position in sorted(self.assigned.items()):
            records = self.cluster.partitions[partition.topic][partition.partition][
                position : position + left
            ]
            if records:
                batches[partition] = list(records)
                self.assigned[partition] = position + len(records)
                left -= len(records)
        return batches

    async def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        for partition, offset in offsets.items():
            if partition not in self.assigned:
                raise CommitFailedError(f"{partition} is not assigned to {self.client_id}")
            self.cluster.committed[(self.group, partition)] = int(offset)

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    async def position(self, partition: TopicPartition) -> int:
        return self.assigned[partition]

    async def committed(self, partition: TopicPartition) -> int | None:
        return self.cluster.committed.get((self.group, partition))

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        partitions = self.cluster.partitions.get(topic)
        return None if partitions is None else set(range(len(partitions)))

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {p: len(self.cluster.partitions[p.topic][p.partition]) for p in partitions}

    async def beginning_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return dict.fromkeys(partitions, 0)


class FakeProducer:
    """The ``AIOKafkaProducer`` methods the adapter calls."""

    def __init__(self, cluster: FakeKafkaCluster, config: Mapping[str, Any]) -> None:
        self.cluster, self.config = cluster, dict(config)

    async def start(self) -> None:
        if not self.cluster.reachable:
            raise KafkaConnectionError("Unable to bootstrap from the fake cluster")
        assert self.config.get("acks") == "all" and self.config.get("enable_idempotence") is True

    async def stop(self) -> None:
        return None

    async def send_and_wait(
        self, topic: str, value: bytes | None, key: bytes | None, *, headers: list[tuple[str, bytes]]
    ) -> RecordMetadata:
        if not self.cluster.reachable:
            raise KafkaConnectionError("the fake cluster is unreachable")
        return self.cluster.append(topic, value, key, headers)
