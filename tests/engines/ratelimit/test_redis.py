"""The Redis rate limiter: the contract on a real redis-server, and what is Redis's own (buckets shared
by processes, one EVALSHA per request, expiring buckets, failing open while Redis is away)."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

import anyio
import pytest
import redis.asyncio

from helpers.postgres import free_port
from ragworks.engines.ratelimit.redis import KEY_PREFIX, PAUSE_AFTER_FAILURE_S, RedisRateLimiter
from ragworks.testing.rate_limit_contract import (
    SLOW_RATE,
    LimiterFactory,
    RateLimiterContract,
    StartedLimiters,
    fresh_key,
)

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


class TestRedisRateLimiter(RateLimiterContract):
    """Every guarantee of the port, plus Redis's own behaviour."""

    @pytest.fixture
    async def limiters(self, redis_url: str) -> AsyncIterator[LimiterFactory]:
        factory = StartedLimiters(lambda rate, burst: RedisRateLimiter(redis_url, rate, burst))
        yield factory
        await factory.close()

    @pytest.fixture
    async def raw(self, redis_url: str) -> AsyncIterator[redis.asyncio.Redis]:
        """A plain client on the same server, to look at buckets and counters."""
        client = redis.asyncio.Redis.from_url(redis_url)
        yield client
        await client.aclose()

    async def test_two_processes_share_one_bucket_per_caller(self, limiters: LimiterFactory) -> None:
        first = await limiters.open(SLOW_RATE, burst=3)
        second = await limiters.open(SLOW_RATE, burst=3)  # another API process, its own connections
        key = fresh_key("shared")
        taken = [await first.hit(key), await second.hit(key), await first.hit(key), await second.hit(key)]
        assert [d.allowed for d in taken] == [True, True, True, False]

    async def test_each_request_is_one_evalsha(
        self, limiters: LimiterFactory, raw: redis.asyncio.Redis
    ) -> None:
        limiter = await limiters.open(SLOW_RATE, burst=50)
        key = fresh_key("evalsha")
        await limiter.hit(key)  # may load the script first
        before = await raw.info("commandstats")
        for _ in range(10):
            await limiter.hit(key)
        after = await raw.info("commandstats")
        assert calls("evalsha", after) - calls("evalsha", before) == 10
        assert calls("eval", after) == calls("eval", before)
        assert calls("script|load", after) == calls("script|load", before)

    async def test_a_bucket_expires_once_it_would_be_full_again(
        self, limiters: LimiterFactory, raw: redis.asyncio.Redis
    ) -> None:
        limiter = await limiters.open(10.0, burst=5)  # full again 0.5 s after the last request
        key = fresh_key("ttl")
        await limiter.hit(key)
        ttl_ms = await raw.pttl(KEY_PREFIX + key)
        assert 500 < ttl_ms <= 1500  # refill time plus a second of slack

    async def test_the_script_is_loaded_again_after_redis_forgot_it(
        self, limiters: LimiterFactory, raw: redis.asyncio.Redis
    ) -> None:
        limiter = await limiters.open(SLOW_RATE, burst=2)
        key = fresh_key("flushed")
        assert (await limiter.hit(key)).remaining == 1
        await raw.script_flush()  # what a Redis restart does to loaded scripts
        second = await limiter.hit(key)
        assert second.checked
        assert second.remaining == 0

    async def test_a_stalled_redis_lets_requests_through_then_checks_resume(
        self, limiters: LimiterFactory, raw: redis.asyncio.Redis
    ) -> None:
        limiter = await limiters.open(SLOW_RATE, burst=1)
        key = fresh_key("stalled")
        assert (await limiter.hit(key)).checked
        await raw.client_pause(300)  # Redis answers no one for 0.3 s
        started = time.monotonic()
        during = [await limiter.hit(key) for _ in range(20)]
        assert time.monotonic() - started < 0.3  # one timed-out try, then no more tries for a while
        assert all(d.allowed and not d.checked for d in during)
        await anyio.sleep(0.3 + PAUSE_AFTER_FAILURE_S)
        resumed = await limiter.hit(key)
        assert resumed.checked
        assert not resumed.allowed  # the bucket kept its state: its one token was taken before


def calls(command: str, stats: dict[str, dict[str, int]]) -> int:
    """How often Redis ran ``command``, from ``INFO commandstats``."""
    return stats.get(f"cmdstat_{command}", {}).get("calls", 0)


async def test_requests_go_through_unchecked_while_redis_is_unreachable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limiter = RedisRateLimiter(f"redis://127.0.0.1:{free_port()}/0", SLOW_RATE, burst=1, timeout_s=0.05)
    await limiter.start()
    try:
        with caplog.at_level(logging.WARNING, logger="ragworks.engines.ratelimit.redis"):
            started = time.monotonic()
            decisions = [await limiter.hit("caller") for _ in range(50)]
            elapsed = time.monotonic() - started
    finally:
        await limiter.close()
    assert all(d.allowed and not d.checked for d in decisions)
    assert elapsed < 0.5  # one failed try, then no more tries for a while: no request waits long
    warnings = [r for r in caplog.records if "unchecked" in r.getMessage()]
    assert len(warnings) == 1
