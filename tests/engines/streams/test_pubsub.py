"""The Pub/Sub adapter: the stream contract on an in-memory Pub/Sub (always) and on the emulator (when
``PUBSUB_EMULATOR_HOST`` names one), and what is Pub/Sub's own: the subscription per group, the ack
deadline's floor, tombstones and empty bodies as attributes, an unreachable service.

The in-memory Pub/Sub (tests/helpers/fake_pubsub.py) stands in because neither Pub/Sub nor its
emulator can be installed on this machine."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import anyio
import pytest

from helpers.fake_pubsub import FakePubSub
from helpers.postgres import free_port
from ragworks.engines.streams import pubsub
from ragworks.engines.streams.base import SourceOptions, StreamPublisher, StreamUnavailable
from ragworks.engines.streams.providers import open_publisher, open_source
from ragworks.testing.stream_contract import SourceOpener, StreamContract, fetch_for, fetch_until

pytestmark = pytest.mark.anyio

EMULATOR = os.environ.get("PUBSUB_EMULATOR_HOST")


class PubSubTraits:
    """How Pub/Sub differs from the contract's defaults."""

    # an unacknowledged message comes back when its ack deadline ends, not when its consumer reopens
    REDELIVERS_ON_RESTART = False
    # delivery attempts are counted only for subscriptions with a dead-letter policy
    COUNTS_DELIVERIES = False
    # deadlines under Pub/Sub's 10 s floor are set per message with modifyAckDeadline, in whole seconds
    CLAIM_AFTER_S = 1.0

    @pytest.fixture
    async def publisher(self, sources: SourceOpener) -> AsyncIterator[StreamPublisher]:
        """A started publisher, once the test's group exists: a Pub/Sub subscription gets only what is
        published after it was created (the other brokers keep a stream for groups that come later)."""
        async with sources.open("creates-the-subscription"):
            pass
        publisher = open_publisher(sources.url)
        await publisher.start()
        try:
            yield publisher
        finally:
            await publisher.close()


@pytest.fixture
def fake_pubsub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePubSub]:
    """An in-memory Pub/Sub that the adapter's clients are built on for this test."""
    fake = FakePubSub()
    monkeypatch.setattr(pubsub, "_client_factory", fake)
    yield fake


class TestPubSubOnFake(PubSubTraits, StreamContract):
    """The contract, and Pub/Sub's own behaviour, on the in-memory Pub/Sub."""

    @pytest.fixture
    def stream_url(self, fake_pubsub: FakePubSub) -> str:  # noqa: ARG002 - installs the fake
        return "pubsub://ragworks-test"

    async def test_each_group_is_a_subscription_named_after_topic_and_group(
        self, sources: SourceOpener, fake_pubsub: FakePubSub
    ) -> None:
        async with sources.open("c1", redeliver_after_s=30.0):
            name = f"projects/ragworks-test/subscriptions/{sources.stream}.{sources.group}"
            assert fake_pubsub.subscriptions[name].ack_deadline_s == 30
            assert fake_pubsub.subscriptions[name].topic == f"projects/ragworks-test/topics/{sources.stream}"
        async with sources.open("c2", redeliver_after_s=30.0):  # an existing subscription is reused
            assert len(fake_pubsub.subscriptions) == 1

    async def test_short_redelivery_keeps_the_subscription_at_the_floor(
        self, sources: SourceOpener, fake_pubsub: FakePubSub
    ) -> None:
        async with sources.open("c1", redeliver_after_s=0.2):
            [subscription] = fake_pubsub.subscriptions.values()
            assert subscription.ack_deadline_s == pubsub.MIN_SUBSCRIPTION_DEADLINE_S

    async def test_two_groups_each_get_every_message(
        self, sources: SourceOpener, publisher: StreamPublisher
    ) -> None:
        other = SourceOpener(sources.url, sources.stream, f"{sources.group}-other", sources.extra)
        async with sources.open("c1") as first, other.open("c1") as second:
            await publisher.publish(sources.stream, b"both")
            for source in (first, second):
                [message] = await fetch_until(source, 1, self.DEADLINE_S)
                assert message.value == b"both"
                await source.ack([message])

    async def test_tombstone_and_empty_body_carry_a_marker_attribute(
        self, sources: SourceOpener, publisher: StreamPublisher, fake_pubsub: FakePubSub
    ) -> None:
        async with sources.open("c1") as source:
            await publisher.publish(sources.stream, None)
            await publisher.publish(sources.stream, b"")
            [subscription] = fake_pubsub.subscriptions.values()
            markers = [e.message.attributes[pubsub.TOMBSTONE_ATTRIBUTE] for e in subscription.entries]
            assert markers == ["1", "0"]
            messages = await fetch_until(source, 2, self.DEADLINE_S)
            assert [(m.value, dict(m.headers)) for m in messages] == [(None, {}), (b"", {})]

    async def test_acked_message_does_not_come_back_after_the_deadline(
        self, sources: SourceOpener, publisher: StreamPublisher
    ) -> None:
        async with sources.open("c1", redeliver_after_s=self.CLAIM_AFTER_S) as source:
            await publisher.publish(sources.stream, b"once")
            await source.ack(await fetch_until(source, 1, self.DEADLINE_S))
            assert await fetch_for(source, 2 * self.CLAIM_AFTER_S) == []

    async def test_unreachable_service_is_reported(
        self, fake_pubsub: FakePubSub, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from google.api_core.exceptions import ServiceUnavailable

        def refuse(**call: object) -> None:  # noqa: ARG001 - the client's signature
            raise ServiceUnavailable("connection refused")

        client = fake_pubsub.publisher(None)
        monkeypatch.setattr(fake_pubsub, "publisher", lambda _emulator: client)
        monkeypatch.setattr(client, "create_topic", refuse)
        source = open_source("pubsub://ragworks-test", "topic", SourceOptions())
        with pytest.raises(StreamUnavailable):
            await source.start()


async def test_real_client_reports_an_emulator_nobody_listens_on() -> None:
    """google-cloud-pubsub itself (no fake): the adapter's calls are accepted and a dead endpoint is
    reported within the request timeout, not retried inside the library."""
    url = f"pubsub://ragworks-test?emulator=127.0.0.1:{free_port()}"
    with anyio.fail_after(3 * pubsub.REQUEST_TIMEOUT_S):
        with pytest.raises(StreamUnavailable):
            await open_source(url, "topic", SourceOptions()).start()
        publisher = open_publisher(url)
        await publisher.start()
        with pytest.raises(StreamUnavailable):
            await publisher.publish("topic", b"x", key=b"k")
        await publisher.close()


def test_url_names_the_project_and_the_emulator() -> None:
    assert pubsub.parse_url("pubsub://my-project") == ("my-project", None)
    assert pubsub.parse_url("pubsub://my-project?emulator=localhost:8085") == ("my-project", "localhost:8085")
    with pytest.raises(ValueError, match="pubsub://"):
        pubsub.parse_url("kafka://a:9092")


@pytest.mark.integration
@pytest.mark.skipif(EMULATOR is None, reason="set PUBSUB_EMULATOR_HOST=host:port to run against the emulator")
class TestPubSubOnEmulator(PubSubTraits, StreamContract):
    """The contract on the Pub/Sub emulator (the client library connects to it by itself)."""

    DEADLINE_S = 20.0

    @pytest.fixture
    def stream_url(self) -> str:
        return "pubsub://ragworks-test"
