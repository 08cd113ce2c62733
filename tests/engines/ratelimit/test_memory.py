"""The in-memory rate limiter: the contract, and its own bounds (idle buckets dropped, a cap on
callers) on a clock the tests move by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ragworks.engines.ratelimit.memory import MemoryRateLimiter
from ragworks.testing.rate_limit_contract import LimiterFactory, RateLimiterContract, StartedLimiters

pytestmark = pytest.mark.anyio


class TestMemoryRateLimiter(RateLimiterContract):
    @pytest.fixture
    async def limiters(self) -> AsyncIterator[LimiterFactory]:
        factory = StartedLimiters(MemoryRateLimiter)
        yield factory
        await factory.close()


class Clock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_buckets_idle_long_enough_to_be_full_are_dropped_when_a_new_caller_comes() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(10.0, burst=5, clock=clock)  # full again 0.5 s after the last request
    limiter.take("idle")
    clock.now += 0.2
    limiter.take("recent")
    clock.now += 0.4  # "idle" last seen 0.6 s ago, "recent" 0.4 s ago
    limiter.take("new")
    assert len(limiter) == 2
    assert limiter.take("idle").remaining == 4  # back with a full bucket, as if it had been kept


def test_past_max_buckets_the_least_recently_seen_caller_is_dropped() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(0.001, burst=2, max_buckets=3, clock=clock)  # nothing refills
    for key in ("a", "b", "c"):
        limiter.take(key)
    limiter.take("a")  # "b" is now the least recently seen
    limiter.take("d")
    assert len(limiter) == 3
    assert not limiter.take("a").allowed  # kept: its two tokens are spent
    assert limiter.take("b").remaining == 1  # dropped, so it starts again with a full bucket


def test_many_callers_never_grow_the_table_past_its_bound() -> None:
    limiter = MemoryRateLimiter(1.0, burst=10, max_buckets=100)
    for n in range(5000):
        limiter.take(f"ip:10.0.{n // 256}.{n % 256}")
    assert len(limiter) == 100


def test_the_bucket_refills_with_the_clock() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(4.0, burst=2, clock=clock)
    assert [limiter.take("k").allowed for _ in range(3)] == [True, True, False]
    clock.now += 0.25  # one token at 4 per second
    assert limiter.take("k").allowed
    refused = limiter.take("k")
    assert not refused.allowed
    assert refused.retry_after_s == pytest.approx(0.25)


def test_a_burst_too_large_to_share_decisions_still_counts_down() -> None:
    limiter = MemoryRateLimiter(1.0, burst=10_000)
    assert [limiter.take("k").remaining for _ in range(3)] == [9999, 9998, 9997]
