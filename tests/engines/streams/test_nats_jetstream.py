"""The NATS JetStream adapter: the stream contract on a real nats-server with JetStream, and what is
JetStream's own (the stream and durable consumer it sets up, keys and tombstones in headers, an
unreachable broker)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import nats
import pytest

from helpers.nats import nats_server
from helpers.postgres import free_port
from ragworks.engines.streams.base import SourceOptions, StreamPublisher, StreamUnavailable
from ragworks.engines.streams.nats_jetstream import stream_name_for
from ragworks.engines.streams.providers import open_publisher, open_source
from ragworks.testing.stream_contract import SourceOpener, StreamContract, fetch_until

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

UNAVAILABLE_WITHIN_S = 15.0


class TestJetStream(StreamContract):
    """Every guarantee of the stream port, plus JetStream's own behaviour."""

    # one durable consumer serves the whole group: a restarted consumer's unacknowledged messages
    # come back once ack_wait (redeliver_after_s) has passed, not at once
    REDELIVERS_ON_RESTART = False

    @pytest.fixture
    def stream_url(self, nats_url: str) -> str:
        return nats_url

    @pytest.fixture
    async def jsm(self, nats_url: str) -> AsyncIterator[Any]:
        """A plain JetStream context on the same server, to look at streams and consumers."""
        nc = await nats.connect(nats_url)
        yield nc.jetstream()
        await nc.close()

    async def test_creates_a_stream_and_a_durable_consumer(self, sources: SourceOpener, jsm: Any) -> None:
        async with sources.open("c1", redeliver_after_s=7.5):
            info = await jsm.stream_info(stream_name_for(sources.stream))
            assert info.config.subjects == [sources.stream]
            consumer = await jsm.consumer_info(info.config.name, sources.group)
            assert consumer.config.ack_wait == pytest.approx(7.5)
            assert consumer.config.filter_subject == sources.stream

    async def test_dotted_subject_gets_a_valid_stream_name(
        self, sources: SourceOpener, publisher: StreamPublisher, jsm: Any
    ) -> None:
        subject = f"orders.created.{sources.stream}"
        position = await publisher.publish(subject, b"o-1")
        assert stream_name_for(subject) == f"RAGWORKS_orders_created_{sources.stream}"
        options = SourceOptions(sources.group, "c1", 60.0)
        source = open_source(sources.url, subject, options)
        await source.start()
        try:
            [message] = await fetch_until(source, 1, 10.0)
            assert (message.value, message.position, message.stream) == (b"o-1", position, subject)
        finally:
            await source.close()
        assert (await jsm.stream_info(stream_name_for(subject))).config.subjects == [subject]

    async def test_extra_names_the_jetstream_stream(
        self, stream_url: str, stream_name: str, publisher: StreamPublisher, jsm: Any
    ) -> None:
        named = SourceOptions("g", "c1", 60.0, extra={"jetstream": f"NAMED_{stream_name}"})
        source = open_source(stream_url, stream_name, named)
        await source.start()
        try:
            await publisher.publish(stream_name, b"x")
            assert [m.value for m in await fetch_until(source, 1, 10.0)] == [b"x"]
        finally:
            await source.close()
        assert (await jsm.stream_info(f"NAMED_{stream_name}")).config.subjects == [stream_name]

    async def test_binary_key_and_tombstone_travel_in_headers(
        self, sources: SourceOpener, publisher: StreamPublisher
    ) -> None:
        async with sources.open("c1") as source:
            await publisher.publish(sources.stream, None, key=b"\x00\xff\n")
            await publisher.publish(sources.stream, b"", key="키".encode())
            tombstone, empty = await fetch_until(source, 2, 10.0)
            assert (tombstone.value, tombstone.key, dict(tombstone.headers)) == (None, b"\x00\xff\n", {})
            assert (empty.value, empty.key) == (b"", "키".encode())

    async def test_reserved_headers_are_refused(
        self, sources: SourceOpener, publisher: StreamPublisher
    ) -> None:
        with pytest.raises(ValueError, match="reserved"):
            await publisher.publish(sources.stream, b"x", headers={"Ragworks-Tombstone": "1"})


async def test_unreachable_broker_raises_stream_unavailable() -> None:
    url = f"nats://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with anyio.fail_after(UNAVAILABLE_WITHIN_S):
        with pytest.raises(StreamUnavailable, match="NATS at 127.0.0.1"):
            await open_source(url, "s", SourceOptions()).start()
        with pytest.raises(StreamUnavailable):
            await open_publisher(url).start()
    assert time.monotonic() - started < UNAVAILABLE_WITHIN_S


async def test_broker_going_away_raises_stream_unavailable(tmp_path: Path) -> None:
    with nats_server(tmp_path) as url:
        source, publisher = open_source(url, "s", SourceOptions("g", "c1")), open_publisher(url)
        await source.start()
        await publisher.start()
        await publisher.publish("s", b"before")
        assert [m.value for m in await fetch_until(source, 1, 10.0)] == [b"before"]
    with anyio.fail_after(UNAVAILABLE_WITHIN_S):
        with pytest.raises(StreamUnavailable, match="NATS at 127.0.0.1"):
            await source.fetch(10, 1.0)
        with pytest.raises(StreamUnavailable):
            await publisher.publish("s", b"after")
    await source.close()
    await publisher.close()
