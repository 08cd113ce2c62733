"""Contract tests every RateLimiter adapter must pass.

One mixin per capability; ``RateLimiterContract`` is all of them. An adapter's test class provides the
fixture ``limiters``: a :class:`LimiterFactory` whose ``open(requests_per_s, burst)`` returns a started
limiter of the adapter, closed after the test (:class:`StartedLimiters` does both). Each test uses keys
of its own.

Time is real: buckets refill on the adapter's own clock (Redis's, for the Redis adapter), so the rates
are chosen for margins of tens of milliseconds or more. The tests are ``anyio`` tests: the test module
(or its conftest) provides ``anyio_backend``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Protocol

import anyio
import pytest

from ragworks.engines.ratelimit.base import Decision, RateLimiter

SLOW_RATE = 0.5  # one token per 2 s: nothing refills while a test takes its burst


class LimiterFactory(Protocol):
    """Opens started limiters of the adapter under test."""

    async def open(self, requests_per_s: float, burst: int) -> RateLimiter:
        """A started limiter with these limits; the factory closes it after the test."""


class StartedLimiters:
    """A LimiterFactory on ``make(requests_per_s, burst)`` (an adapter's class, or a lambda that
    builds one); the ``limiters`` fixture yields it and then awaits ``close()``."""

    def __init__(self, make: Callable[[float, int], RateLimiter]) -> None:
        self.make = make
        self.opened: list[RateLimiter] = []

    async def open(self, requests_per_s: float, burst: int) -> RateLimiter:
        """A started limiter from ``make``."""
        limiter = self.make(requests_per_s, burst)
        await limiter.start()
        self.opened.append(limiter)
        return limiter

    async def close(self) -> None:
        """Close every limiter opened."""
        for limiter in self.opened:
            await limiter.close()


def fresh_key(label: str) -> str:
    """A key no other test uses (a Redis server may be shared by the session)."""
    return f"{label}-{uuid.uuid4().hex[:12]}"


class BurstTest:
    """A new caller may make ``burst`` requests at once, and no more."""

    async def test_a_new_caller_gets_the_whole_burst(self, limiters: LimiterFactory) -> None:
        limiter = await limiters.open(SLOW_RATE, burst=5)
        key = fresh_key("burst")
        decisions = [await limiter.hit(key) for _ in range(5)]
        assert [d.allowed for d in decisions] == [True] * 5
        assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0]
        assert {d.limit for d in decisions} == {5}
        assert all(d.checked for d in decisions)

    async def test_the_request_after_the_burst_is_refused_with_a_wait(self, limiters: LimiterFactory) -> None:
        limiter = await limiters.open(SLOW_RATE, burst=2)
        key = fresh_key("refused")
        await limiter.hit(key)
        await limiter.hit(key)
        refused = await limiter.hit(key)
        assert not refused.allowed
        assert refused.remaining == 0
        assert refused.limit == 2
        # an empty bucket holds a whole token again after 1 / rate = 2 s
        assert 1.5 < refused.retry_after_s <= 2.0

    async def test_concurrent_requests_never_take_more_than_the_burst(self, limiters: LimiterFactory) -> None:
        limiter = await limiters.open(SLOW_RATE, burst=10)
        key = fresh_key("concurrent")
        decisions: list[Decision] = []

        async def one() -> None:
            decisions.append(await limiter.hit(key))

        async with anyio.create_task_group() as group:
            for _ in range(30):
                group.start_soon(one)
        assert all(d.checked for d in decisions)  # a burst of callers must not look like an outage
        assert [d.allowed for d in decisions].count(True) == 10


class RefillTest:
    """Tokens come back at ``requests_per_s``, up to ``burst`` and no further."""

    async def test_a_refused_caller_is_let_in_once_the_wait_has_passed(
        self, limiters: LimiterFactory
    ) -> None:
        limiter = await limiters.open(20.0, burst=2)
        key = fresh_key("refill")
        await limiter.hit(key)
        await limiter.hit(key)
        refused = await limiter.hit(key)
        assert not refused.allowed
        assert 0.0 < refused.retry_after_s <= 0.05 + 0.001  # one token every 50 ms
        await anyio.sleep(refused.retry_after_s + 0.02)
        assert (await limiter.hit(key)).allowed

    async def test_refused_requests_take_no_tokens(self, limiters: LimiterFactory) -> None:
        limiter = await limiters.open(10.0, burst=1)
        key = fresh_key("no-debt")
        assert (await limiter.hit(key)).allowed
        for _ in range(20):  # hammering an empty bucket must not push the next token further away
            await limiter.hit(key)
        await anyio.sleep(0.13)  # one token every 100 ms
        assert (await limiter.hit(key)).allowed

    async def test_an_idle_bucket_fills_up_to_the_burst_only(self, limiters: LimiterFactory) -> None:
        limiter = await limiters.open(10.0, burst=3)
        key = fresh_key("cap")
        for _ in range(3):
            await limiter.hit(key)
        await anyio.sleep(0.6)  # 6 tokens' worth of time; the bucket holds 3
        after = [await limiter.hit(key) for _ in range(4)]
        assert [d.allowed for d in after] == [True, True, True, False]


class IsolationTest:
    """Callers never share tokens, whatever their keys look like."""

    async def test_an_empty_bucket_does_not_limit_another_caller(self, limiters: LimiterFactory) -> None:
        limiter = await limiters.open(SLOW_RATE, burst=1)
        first, second = fresh_key("first"), fresh_key("second")
        assert (await limiter.hit(first)).allowed
        assert not (await limiter.hit(first)).allowed
        assert (await limiter.hit(second)).allowed

    @pytest.mark.parametrize("shape", ["ip:::1", "ip:203.0.113.7", "key:ab12cd34ef56", "ключ 🔑", "a:b{c}"])
    async def test_keys_of_any_shape_have_their_own_bucket(
        self, limiters: LimiterFactory, shape: str
    ) -> None:
        limiter = await limiters.open(SLOW_RATE, burst=1)
        key = fresh_key(shape)
        assert (await limiter.hit(key)).allowed
        assert not (await limiter.hit(key)).allowed
        assert (await limiter.hit(key + "x")).allowed


class RateLimiterContract(BurstTest, RefillTest, IsolationTest):
    """Every capability of the RateLimiter port."""
