"""Contract tests every stream adapter (``StreamSource`` + ``StreamPublisher``) must pass.

One mixin per capability; ``StreamContract`` is all of them. An adapter's test class provides:

- ``stream_url``: the URL of a running broker (``redis://...``, ``nats://...``, ``kafka://...``);
- optionally ``stream_name`` / ``stream_group``: a fresh stream and group name for one test (the
  defaults are unique names that every broker accepts), and ``stream_extra``: ``SourceOptions.extra``.

and may override these class attributes where its broker differs:

- ``REDELIVERS_ON_RESTART``: a consumer that reopens under the same name gets back what it had not
  acknowledged at once. False where the whole group shares one broker-side consumer (JetStream's durable
  pull consumer): the messages then come back once ``redeliver_after_s`` has passed.
- ``COUNTS_DELIVERIES``: the broker counts deliveries, so a redelivered message has ``deliveries >= 2``.
- ``TAKES_OVER_FROM_LIVE_CONSUMER``: another consumer of the group takes over a message that a consumer
  still connected (but hung) left unacknowledged past ``redeliver_after_s``. False where the broker hands
  work over only when a consumer leaves the group (Kafka's rebalance): the test then closes the first.
- ``CLAIM_AFTER_S``: the ``redeliver_after_s`` used where a test waits for a takeover (a broker with a
  minimum ack deadline, such as Pub/Sub's 10 s, raises it).
- ``DEADLINE_S``: how long a test waits for something that must happen.

The tests are ``anyio`` tests: the test module (or its conftest) provides ``anyio_backend``::

    class TestRedisStreams(StreamContract):
        @pytest.fixture
        def stream_url(self, redis_url: str) -> str:
            return redis_url
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager

import anyio
import pytest

from ragworks.engines.streams.base import (
    SourceOptions,
    StreamMessage,
    StreamPublisher,
    StreamSource,
)
from ragworks.engines.streams.providers import open_publisher, open_source

LONG_S = 60.0  # a redeliver_after_s no test outlives: nothing is taken over by timeout
QUIET_S = 1.0  # how long to watch for a delivery that must not come
POLL_S = 0.2  # wait_s of each fetch inside the wait-until loops


async def fetch_until(
    source: StreamSource, count: int, deadline_s: float, limit: int = 100
) -> list[StreamMessage]:
    """Fetch until ``count`` messages have arrived or ``deadline_s`` passes; returns what arrived."""
    got: list[StreamMessage] = []
    deadline = time.monotonic() + deadline_s
    while len(got) < count and time.monotonic() < deadline:
        got += await source.fetch(min(limit, count - len(got)), POLL_S)
    return got


async def fetch_for(source: StreamSource, seconds: float) -> list[StreamMessage]:
    """Everything delivered to ``source`` over ``seconds`` (for messages that must not come)."""
    got: list[StreamMessage] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got += await source.fetch(100, POLL_S)
    return got


async def publish_all(
    publisher: StreamPublisher, stream: str, values: Sequence[bytes], key: bytes | None = None
) -> list[str]:
    """Publish ``values`` one after the other; returns their positions."""
    return [await publisher.publish(stream, value, key=key) for value in values]


def values_of(messages: Sequence[StreamMessage]) -> list[bytes | None]:
    """The bodies of ``messages`` in delivery order."""
    return [m.value for m in messages]


class StreamFixtures:
    """What every stream mixin uses; adapters' test classes override the fixtures and attributes."""

    pytestmark = pytest.mark.anyio

    REDELIVERS_ON_RESTART = True
    COUNTS_DELIVERIES = True
    TAKES_OVER_FROM_LIVE_CONSUMER = True
    CLAIM_AFTER_S = 0.5
    DEADLINE_S = 10.0

    @pytest.fixture
    def stream_url(self) -> str:
        """The broker's URL; the adapter's test class provides it."""
        raise NotImplementedError("the adapter's test class provides the broker URL")

    @pytest.fixture
    def stream_name(self) -> str:
        """A stream (subject, topic) no other test uses."""
        return f"ragworks-test-{uuid.uuid4().hex[:12]}"

    @pytest.fixture
    def stream_group(self) -> str:
        """A consumer group no other test uses."""
        return f"ragworks-group-{uuid.uuid4().hex[:12]}"

    @pytest.fixture
    def stream_extra(self) -> Mapping[str, object]:
        """``SourceOptions.extra`` for every source the tests open."""
        return {}

    @pytest.fixture
    def sources(
        self, stream_url: str, stream_name: str, stream_group: str, stream_extra: Mapping[str, object]
    ) -> SourceOpener:
        """Opens started sources on this test's stream and group."""
        return SourceOpener(stream_url, stream_name, stream_group, stream_extra)

    @pytest.fixture
    async def publisher(self, stream_url: str) -> AsyncIterator[StreamPublisher]:
        """A started publisher, closed after the test."""
        publisher = open_publisher(stream_url)
        await publisher.start()
        try:
            yield publisher
        finally:
            await publisher.close()

    def restart_redeliver_after_s(self) -> float:
        """The ``redeliver_after_s`` for tests that close and reopen a consumer: long where the broker
        gives a restarted consumer its messages at once (so a takeover by timeout cannot pass for it)."""
        return LONG_S if self.REDELIVERS_ON_RESTART else self.CLAIM_AFTER_S


class SourceOpener:
    """Opens sources on one stream and group, each with its own consumer name and redelivery time."""

    def __init__(self, url: str, stream: str, group: str, extra: Mapping[str, object]) -> None:
        self.url, self.stream, self.group, self.extra = url, stream, group, extra

    @asynccontextmanager
    async def open(self, consumer: str, redeliver_after_s: float = LONG_S) -> AsyncIterator[StreamSource]:
        """A started source, closed when the block ends."""
        options = SourceOptions(self.group, consumer, redeliver_after_s, self.extra)
        source = open_source(self.url, self.stream, options)
        await source.start()
        try:
            yield source
        finally:
            await source.close()


class PublishTest(StreamFixtures):
    """What is published arrives as it was: body, key, headers, position; tombstones stay tombstones."""

    async def test_round_trip_keeps_value_key_headers_and_position(
        self, sources: SourceOpener, publisher: StreamPublisher
    ) -> None:
        async with sources.open("c1") as source:
            assert isinstance(source, StreamSource) and isinstance(publisher, StreamPublisher)
            headers = {"trace-id": "t-1", "content-type": "application/json"}
            value = b'{"n": 1}\x00\xff'
            position = await publisher.publish(sources.stream, value, key=b"user-7", headers=headers)
            assert isinstance(position, str) and position
            [message] = await fetch_until(source, 1, self.DEADLINE_S)
            assert (message.value, message.key, dict(message.headers)) == (value, b"user-7", headers)
            assert message.stream == sources.stream
            assert message.position == position
            assert message.deliveries == 1
            await source.ack([message])

    async def test_plain_message_has_no_key_and_no_headers(
        self, sources: SourceOpener, publisher: StreamPublisher
    ) -> None:
        async with sources.open("c1") as source:
            await publisher.publish(sources.stream, b"plain")
            [message] = await fetch_until(source, 1, self.DEADLINE_S)
            assert (message.value, message.key, dict(message.headers)) == (b"plain", None, {})

    async def test_tombstone_arrives_with_value_none(
        self, sources: SourceOpener, publisher: StreamPublisher
    ) -> None:
        async with sources.open("c1") as source:
            await publisher.publish(sources.stream, None, key=b"doc-1", headers={"reason": "deleted"})
            [message] = await fetch_until(source, 1, self.DEADLINE_S)
            assert (message.value, message.key, dict(message.headers)) == (
                None,
                b"doc-1",
                {"reason": "deleted"},
            )

    async def test_empty_body_is_not_a_tombstone(
        self, sources: SourceOpener, publisher: StreamPublisher
    ) -> None:
        async with sources.open("c1") as source:
            await publisher.publish(sources.stream, b"", key=b"k")
            [message] = await fetch_until(source, 1, self.DEADLINE_S)
            assert message.value == b""

    async def test_positions_are_distinct_and_match_deliveries(
        self, sources: SourceOpener, publisher: StreamPublisher
    ) -> None:
        async with sources.open("c1") as source:
            positions = await publish_all(publisher, sources.stream, [b"a", b"b", b"c"], key=b"k")
            assert all(positions) and len(set(positions)) == 3
            messages = await fetch_until(source, 3, self.DEADLINE_S)
            assert [m.position for m in messages] == positions


class AckTest(StreamFixtures):
    """Acknowledged messages are done; unacknowledged ones come back to the same consumer name."""

    async def test_acked_messages_are_not_delivered_again_after_reopen(
        self, sources: SourceOpener, publisher: StreamPublisher
    ) -> None:
        await publish_all(publisher, sources.stream, [b"1", b"2", b"3"], key=b"k")
        async with sources.open("c1", self.restart_redeliver_after_s()) as source:
            messages = await fetch_until(source, 3, self.DEADLINE_S)
            assert values_of(messages) == [b"1", b"2", b"3"]
            await source.ack(messages)
        async with sources.open("c1", self.restart_redeliver_after_s()) as source:
            assert await fetch_for(source, QUIET_S + self.CLAIM_AFTER_S) == []
            await publisher.publish(sources.stream, b"4", key=b"k")  # the reopened source is live
            assert values_of(await fetch_until(source, 1, self.DEADLINE_S)) == [b"4"]

    async def test_unacked_messages_come_back_after_reopen(
        self, sources: SourceOpener, publisher: StreamPublisher
    ) -> None:
        await publish_all(publisher, sources.stream, [b"done", b"pending"], key=b"k")
        async with sources.open("c1", self.restart_redeliver_after_s()) as source:
            done, pending = await fetch_until(source, 2, self.DEADLINE_S)
            await source.ack([done])
        started = time.monotonic()
        async with sources.open("c1", self.restart_redeliver_after_s()) as source:
            [again] = await fetch_until(source, 1, self.DEADLINE_S)
            await source.ack([again])
        if self.REDELIVERS_ON_RESTART:
            assert time.monotonic() - started < LONG_S  # not by a takeover after redeliver_after_s
        assert (again.value, again.position) == (b"pending", pending.position)
        if self.COUNTS_DELIVERIES:
            assert again.deliveries >= 2

    async def test_thousand_messages_in_batches_are_each_delivered_once(
        self, sources: SourceOpener, publisher: StreamPublisher
    ) -> None:
        sent = [f"m{i:04d}".encode() for i in range(1000)]
        await publish_all(publisher, sources.stream, sent)
        got: list[StreamMessage] = []
        async with sources.open("c1", self.restart_redeliver_after_s()) as source:
            deadline = time.monotonic() + 6 * self.DEADLINE_S
            while len(got) < len(sent) and time.monotonic() < deadline:
                batch = await source.fetch(100, POLL_S)
                assert len(batch) <= 100
                await source.ack(batch)
                got += batch
        assert len(got) == len(sent)
        assert sorted(m.value or b"" for m in got) == sent
        assert all(m.deliveries == 1 for m in got)
        async with sources.open("c1", self.restart_redeliver_after_s()) as source:
            assert await fetch_for(source, QUIET_S + self.CLAIM_AFTER_S) == []


class GroupTest(StreamFixtures):
    """Consumers of one group share the work: one message to one consumer at a time, and a message
    a consumer left pending past ``redeliver_after_s`` goes to another."""

    async def test_another_consumer_takes_over_after_redeliver_after_s(
        self, sources: SourceOpener, publisher: StreamPublisher
    ) -> None:
        live = self.TAKES_OVER_FROM_LIVE_CONSUMER
        async with sources.open("c2", self.CLAIM_AFTER_S) as second:
            await second.fetch(1, 0.0)  # it has joined before the message exists
            position = await publisher.publish(sources.stream, b"work", key=b"k")
            async with sources.open("c1", self.CLAIM_AFTER_S) as first:
                asked_at = time.monotonic()  # the message is delivered after this
                [taken] = await fetch_until(first, 1, self.DEADLINE_S)
                if live:  # the first consumer never acknowledges: it hung
                    [again] = await fetch_until(second, 1, self.DEADLINE_S + self.CLAIM_AFTER_S)
                    assert time.monotonic() - asked_at >= self.CLAIM_AFTER_S * 0.95
                    await second.ack([again])
                    await first.ack([taken])  # a late acknowledgement of a message taken over is harmless
            if not live:  # the first consumer went away without acknowledging
                [again] = await fetch_until(second, 1, self.DEADLINE_S + self.CLAIM_AFTER_S)
                await second.ack([again])
            assert (again.value, again.position) == (b"work", position)
            if self.COUNTS_DELIVERIES:
                # On a loaded machine a pull that timed out on the client can still be served by
                # NATS: the second consumer then holds a first delivery it reads only later, and
                # the first consumer gets the redelivery. Either way, one of them saw a redelivery.
                assert max(again.deliveries, taken.deliveries) >= 2
            assert await fetch_for(second, QUIET_S + self.CLAIM_AFTER_S) == []

    async def test_two_consumers_never_share_a_message_in_flight(
        self, sources: SourceOpener, publisher: StreamPublisher
    ) -> None:
        sent = [f"w{i:02d}".encode() for i in range(20)]
        async with sources.open("c1") as first, sources.open("c2") as second:
            await first.fetch(1, 0.0)  # both have joined before the messages exist
            await second.fetch(1, 0.0)
            await publish_all(publisher, sources.stream, sent, key=b"k")
            by_consumer: dict[str, list[bytes]] = {"c1": [], "c2": []}
            deadline = time.monotonic() + self.DEADLINE_S
            while len(by_consumer["c1"]) + len(by_consumer["c2"]) < len(sent) and time.monotonic() < deadline:
                for name, source in (("c1", first), ("c2", second)):
                    by_consumer[name] += [m.value or b"" for m in await source.fetch(3, POLL_S / 2)]
            # nothing acknowledged: each message is in flight with the consumer that got it
            assert not set(by_consumer["c1"]) & set(by_consumer["c2"])
            assert sorted(by_consumer["c1"] + by_consumer["c2"]) == sent
            for source in (first, second):  # and neither gets the other's while it is in flight
                assert await fetch_for(source, QUIET_S / 2) == []


class OrderTest(StreamFixtures):
    """One consumer gets one stream's messages (with one key) in publishing order."""

    async def test_one_consumer_gets_messages_in_order(
        self, sources: SourceOpener, publisher: StreamPublisher
    ) -> None:
        sent = [f"o{i:02d}".encode() for i in range(30)]
        await publish_all(publisher, sources.stream, sent, key=b"same-key")
        got: list[StreamMessage] = []
        async with sources.open("c1") as source:
            deadline = time.monotonic() + self.DEADLINE_S
            while len(got) < len(sent) and time.monotonic() < deadline:
                batch = await source.fetch(7, POLL_S)
                await source.ack(batch)
                got += batch
        assert values_of(got) == sent


class WaitTest(StreamFixtures):
    """A fetch with nothing to deliver waits about ``wait_s`` and returns nothing."""

    WAIT_S = 0.5
    SLACK_S = 2.0  # a broker may take longer to answer an empty long poll, never much less

    async def test_fetch_with_nothing_waits_about_wait_s(self, sources: SourceOpener) -> None:
        async with sources.open("c1") as source:
            await source.fetch(1, 0.0)  # joining the group may take a while once
            started = time.monotonic()
            assert await source.fetch(10, self.WAIT_S) == []
            waited = time.monotonic() - started
        assert self.WAIT_S * 0.8 <= waited <= self.WAIT_S + self.SLACK_S

    async def test_fetch_returns_a_message_published_while_it_waits(
        self, sources: SourceOpener, publisher: StreamPublisher
    ) -> None:
        async with sources.open("c1") as source:
            await source.fetch(1, 0.0)
            await publisher.publish(sources.stream, b"late")
            started = time.monotonic()
            messages = await source.fetch(10, self.DEADLINE_S)
            assert values_of(messages) == [b"late"]
            assert time.monotonic() - started < self.DEADLINE_S


class LagTest(StreamFixtures):
    """``lag()`` counts the messages the group has not been delivered (skipped where it says None)."""

    async def lag_when(self, source: StreamSource, expected: int) -> int | None:
        """Poll ``lag()`` until it is ``expected`` or the deadline passes; returns the last answer."""
        deadline = time.monotonic() + self.DEADLINE_S
        lag = await source.lag()
        while lag is not None and lag != expected and time.monotonic() < deadline:
            await anyio.sleep(0.05)  # the broker may count what was just acknowledged a moment later
            lag = await source.lag()
        return lag

    async def test_lag_counts_undelivered_messages(
        self, sources: SourceOpener, publisher: StreamPublisher
    ) -> None:
        await publish_all(publisher, sources.stream, [b"1", b"2", b"3", b"4", b"5"], key=b"k")
        async with sources.open("c1") as source:
            lag = await self.lag_when(source, 5)
            if lag is None:
                pytest.skip("this adapter does not report lag")
            assert lag == 5
            first_two = await fetch_until(source, 2, self.DEADLINE_S, limit=2)
            await source.ack(first_two)
            assert await self.lag_when(source, 3) == 3
            await source.ack(await fetch_until(source, 3, self.DEADLINE_S))
            assert await self.lag_when(source, 0) == 0


class StreamContract(PublishTest, AckTest, GroupTest, OrderTest, WaitTest, LagTest):
    """Every guarantee of the stream port."""
