"""The Redis Streams adapter: the stream contract on a real redis-server, and what is Redis's own
(entry layout, XAUTOCLAIM from a dead consumer, trimming, a lost group, an unreachable broker)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
import redis.asyncio

from helpers.postgres import free_port
from helpers.redis import redis_server
from ragworks.engines.streams.base import SourceOptions, StreamUnavailable
from ragworks.engines.streams.providers import open_publisher, open_source
from ragworks.testing.stream_contract import SourceOpener, StreamContract, fetch_until

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

UNAVAILABLE_WITHIN_S = 15.0  # a dead broker is reported, not waited on for ever


class TestRedisStreams(StreamContract):
    """Every guarantee of the stream port, plus Redis's own behaviour."""

    @pytest.fixture
    def stream_url(self, redis_url: str) -> str:
        return redis_url

    @pytest.fixture
    async def raw(self, redis_url: str) -> AsyncIterator[redis.asyncio.Redis]:
        """A plain client on the same server, to look at and stage entries."""
        client = redis.asyncio.Redis.from_url(redis_url)
        yield client
        await client.aclose()

    async def test_entry_fields_are_value_key_and_headers(
        self, sources: SourceOpener, raw: redis.asyncio.Redis
    ) -> None:
        publisher = open_publisher(sources.url)
        await publisher.start()
        try:
            await publisher.publish(sources.stream, b"body", key=b"id-1", headers={"trace": "t"})
            await publisher.publish(sources.stream, None)
        finally:
            await publisher.close()
        [(_, fields), (_, tombstone)] = await raw.xrange(sources.stream)
        assert fields == {b"v": b"body", b"k": b"id-1", b"h:trace": b"t"}
        assert tombstone == {b"t": b""}  # an entry needs a field; a bare tombstone has only this one

    async def test_takes_over_entries_of_a_dead_consumer_name(
        self, sources: SourceOpener, raw: redis.asyncio.Redis
    ) -> None:
        async with sources.open("live", 0.5) as source:
            await raw.xadd(sources.stream, {b"v": b"orphan"})
            # a consumer that read the entry and died: it is pending under its name for good
            await raw.xreadgroup(sources.group, "dead", {sources.stream: ">"}, count=1)
            assert await source.fetch(1, 0.0) == []  # not idle long enough yet
            [message] = await fetch_until(source, 1, 10.0)
            assert (message.value, message.deliveries) == (b"orphan", 2)
            [pending] = await raw.xpending_range(sources.stream, sources.group, "-", "+", 10)
            assert pending["consumer"] == b"live"
            await source.ack([message])
            assert await raw.xpending_range(sources.stream, sources.group, "-", "+", 10) == []

    async def test_own_pending_entries_deleted_meanwhile_are_skipped_after_restart(
        self, sources: SourceOpener, raw: redis.asyncio.Redis
    ) -> None:
        ids = [await raw.xadd(sources.stream, {b"v": value}) for value in (b"a", b"b")]
        async with sources.open("c1") as source:
            assert len(await fetch_until(source, 2, 10.0)) == 2  # and never acknowledged
        await raw.xdel(sources.stream, ids[0])
        async with sources.open("c1") as source:
            [message] = await fetch_until(source, 1, 10.0)
            assert (message.value, message.deliveries) == (b"b", 2)
            await source.ack([message])
        assert await raw.xpending_range(sources.stream, sources.group, "-", "+", 10) == []

    async def test_maxlen_in_the_url_trims_about_that_many(
        self, sources: SourceOpener, raw: redis.asyncio.Redis
    ) -> None:
        publisher = open_publisher(f"{sources.url}?maxlen=10")
        await publisher.start()
        try:
            for i in range(500):
                await publisher.publish(sources.stream, str(i).encode())
        finally:
            await publisher.close()
        # approximate trimming drops whole nodes (100 entries each by default), never below maxlen
        assert 10 <= await raw.xlen(sources.stream) <= 200

    async def test_group_lost_with_the_data_is_created_again(
        self, sources: SourceOpener, raw: redis.asyncio.Redis
    ) -> None:
        async with sources.open("c1") as source:
            await raw.delete(sources.stream)  # what a restart without persistence does
            assert await source.fetch(10, 0.1) == []
            await raw.xadd(sources.stream, {b"v": b"after"})
            assert [m.value for m in await fetch_until(source, 1, 10.0)] == [b"after"]


async def test_unreachable_at_start_raises_stream_unavailable() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    source = open_source(url, "s", SourceOptions())
    with anyio.fail_after(UNAVAILABLE_WITHIN_S), pytest.raises(StreamUnavailable, match="127.0.0.1"):
        await source.start()
    await source.close()


async def test_broker_going_away_raises_stream_unavailable(tmp_path: Path) -> None:
    options = SourceOptions(group="g", consumer="c1")
    with redis_server(tmp_path) as url:
        source, publisher = open_source(url, "s", options), open_publisher(url)
        await source.start()
        await publisher.start()
        await publisher.publish("s", b"before")
        assert [m.value for m in await fetch_until(source, 1, 10.0)] == [b"before"]
    started = time.monotonic()
    with anyio.fail_after(UNAVAILABLE_WITHIN_S):
        with pytest.raises(StreamUnavailable, match="Redis at 127.0.0.1:.* is unavailable"):
            await source.fetch(10, 1.0)
        with pytest.raises(StreamUnavailable):
            await publisher.publish("s", b"after")
    assert time.monotonic() - started < UNAVAILABLE_WITHIN_S
    await source.close()
    await publisher.close()
