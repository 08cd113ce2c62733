"""The Kafka adapter: the stream contract on an in-memory cluster (always) and on a real broker (when
``RAGWORKS_TEST_KAFKA`` names one), and what is Kafka's own: contiguous commits, redelivery to a live
consumer after ``redeliver_after_s``, partitions shared by a group, an unreachable broker.

The in-memory cluster (tests/helpers/fake_kafka.py) stands in because no Kafka broker can be installed
on this machine."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from helpers.fake_kafka import FakeKafkaCluster
from helpers.postgres import free_port
from ragworks.engines.streams import kafka
from ragworks.engines.streams.base import SourceOptions, StreamPublisher, StreamUnavailable
from ragworks.engines.streams.providers import open_publisher, open_source
from ragworks.testing.stream_contract import SourceOpener, StreamContract, fetch_for, fetch_until, publish_all

pytestmark = pytest.mark.anyio

REAL_BROKER = os.environ.get("RAGWORKS_TEST_KAFKA")


class KafkaTraits:
    """How Kafka differs from the contract's defaults."""

    # a consumer that reopens starts at the group's committed offset: what it had not committed comes back
    REDELIVERS_ON_RESTART = True
    # Kafka does not count deliveries
    COUNTS_DELIVERIES = False
    # partitions move to another member only at a rebalance (a member leaving or timing out)
    TAKES_OVER_FROM_LIVE_CONSUMER = False


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeKafkaCluster]:
    """An in-memory cluster that the adapter's clients are built on for this test."""
    fake = FakeKafkaCluster()
    monkeypatch.setattr(kafka, "_new_consumer", fake.consumer)
    monkeypatch.setattr(kafka, "_new_producer", fake.producer)
    yield fake


class TestKafkaOnFakeCluster(KafkaTraits, StreamContract):
    """The contract, and Kafka's own behaviour, on the in-memory cluster."""

    @pytest.fixture
    def stream_url(self, cluster: FakeKafkaCluster) -> str:  # noqa: ARG002 - installs the fake
        return "kafka://broker-1:9092,broker-2:9092"

    async def test_ack_commits_only_the_contiguous_acknowledged_prefix(
        self, sources: SourceOpener, publisher: StreamPublisher, cluster: FakeKafkaCluster
    ) -> None:
        await publish_all(publisher, sources.stream, [b"0", b"1", b"2"])
        async with sources.open("c1") as source:
            first, second, third = await fetch_until(source, 3, self.DEADLINE_S)
            await source.ack([second])
            assert cluster.committed == {}  # offset 0 is not acknowledged: nothing may be committed
            await source.ack([first])
            [(_, committed)] = cluster.committed.items()
            assert committed == 2  # the next record to read after a restart is offset 2
        async with sources.open("c1") as source:
            [again] = await fetch_until(source, 1, self.DEADLINE_S)
            assert (again.value, again.position) == (b"2", third.position)
            await source.ack([again])
        assert list(cluster.committed.values()) == [3]

    async def test_out_of_order_ack_is_redelivered_after_restart_not_skipped(
        self, sources: SourceOpener, publisher: StreamPublisher
    ) -> None:
        await publish_all(publisher, sources.stream, [b"a", b"b"])
        async with sources.open("c1") as source:
            _, later = await fetch_until(source, 2, self.DEADLINE_S)
            await source.ack([later])
        async with sources.open("c1") as source:
            messages = await fetch_until(source, 2, self.DEADLINE_S)
        assert [m.value for m in messages] == [b"a", b"b"]

    async def test_live_consumer_gets_its_unacked_message_again_after_redeliver_after_s(
        self, sources: SourceOpener, publisher: StreamPublisher
    ) -> None:
        await publisher.publish(sources.stream, b"slow")
        async with sources.open("c1", redeliver_after_s=self.CLAIM_AFTER_S) as source:
            [first] = await fetch_until(source, 1, self.DEADLINE_S)
            [again] = await fetch_until(source, 1, self.DEADLINE_S)
            assert (again.position, again.deliveries) == (first.position, 2)
            await source.ack([again])
            assert await fetch_for(source, 2 * self.CLAIM_AFTER_S) == []

    async def test_group_members_share_the_partitions(
        self, sources: SourceOpener, publisher: StreamPublisher, cluster: FakeKafkaCluster
    ) -> None:
        cluster.create_topic(sources.stream, partitions=2)
        positions = await publish_all(publisher, sources.stream, [b"x", b"y", b"z", b"w"])
        assert {p.split(":")[0] for p in positions} == {"0", "1"}
        async with sources.open("c1") as first, sources.open("c2") as second:
            got_first = await fetch_for(first, 0.3)
            got_second = await fetch_for(second, 0.3)
        assert {m.position.split(":")[0] for m in got_first} == {"0"}
        assert {m.position.split(":")[0] for m in got_second} == {"1"}
        assert sorted(m.position for m in got_first + got_second) == sorted(positions)

    async def test_ack_after_the_partition_moved_away_is_dropped(
        self, sources: SourceOpener, publisher: StreamPublisher, cluster: FakeKafkaCluster
    ) -> None:
        await publisher.publish(sources.stream, b"moved")
        async with sources.open("c1") as first:
            [taken] = await fetch_until(first, 1, self.DEADLINE_S)
            async with sources.open("a-sorts-first") as second:  # the rebalance gives it the partition
                await first.ack([taken])  # not ours to commit any more
                assert cluster.committed == {}
                [again] = await fetch_until(second, 1, self.DEADLINE_S)
                assert again.position == taken.position
                await second.ack([again])
        assert list(cluster.committed.values()) == [1]

    async def test_lag_is_known_before_the_group_has_read_anything(
        self, sources: SourceOpener, publisher: StreamPublisher
    ) -> None:
        await publish_all(publisher, sources.stream, [b"1", b"2"])
        async with sources.open("c1") as first, sources.open("c2") as second:
            # one partition: the member without it counts from the group's committed offset
            assert await first.lag() == 2
            assert await second.lag() == 2

    async def test_unreachable_broker_is_reported(self, cluster: FakeKafkaCluster) -> None:
        cluster.reachable = False
        source = open_source("kafka://127.0.0.1:1", "topic", SourceOptions())
        with pytest.raises(StreamUnavailable):
            await source.start()


async def test_real_client_reports_a_broker_nobody_listens_on() -> None:
    """aiokafka itself (no fake): the adapter's settings are accepted and a dead broker is reported."""
    url = f"kafka://127.0.0.1:{free_port()}"
    with pytest.raises(StreamUnavailable):
        await open_source(url, "topic", SourceOptions()).start()
    publisher = open_publisher(url)
    with pytest.raises(StreamUnavailable):
        await publisher.start()


def test_bootstrap_servers_come_from_the_url() -> None:
    assert kafka.bootstrap_servers("kafka://a:9092,b:9093") == ["a:9092", "b:9093"]
    with pytest.raises(ValueError, match="kafka://"):
        kafka.bootstrap_servers("redis://a:6379")


@pytest.mark.integration
@pytest.mark.skipif(
    REAL_BROKER is None, reason="set RAGWORKS_TEST_KAFKA=host:port to run against a real broker"
)
class TestKafkaOnRealBroker(KafkaTraits, StreamContract):
    """The contract on a real Kafka broker (topics are created by the broker on first use)."""

    DEADLINE_S = 30.0  # a rebalance after a member leaves takes seconds

    @pytest.fixture
    def stream_url(self) -> str:
        return f"kafka://{REAL_BROKER}"
