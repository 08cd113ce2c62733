"""Token buckets in this process's memory: exact for one process (``ragworks serve``); with several API
processes each keeps its own, so a caller gets up to that many times the limit (use Redis there)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from ragworks.engines.ratelimit.base import Decision

# Allowed decisions are made once per possible ``remaining`` and shared, so the common path allocates
# nothing but the floats of the refill; past this burst they are made per request instead.
_SHARED_DECISIONS_UP_TO = 4096


class _Bucket:
    __slots__ = ("stamp", "tokens")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens
        self.stamp = stamp


class MemoryRateLimiter:
    """A bounded dict of buckets, least recently seen first.

    ``hit`` never awaits, so no lock is needed: the event loop runs one ``hit`` at a time. A bucket idle
    for ``burst / requests_per_s`` seconds is full again, the same as no bucket, so such buckets are
    dropped whenever a new caller arrives; past ``max_buckets`` the least recently seen one goes too
    (its caller starts again with a full bucket, which only errs towards letting requests through).
    """

    def __init__(
        self,
        requests_per_s: float,
        burst: int,
        *,
        max_buckets: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.requests_per_s = requests_per_s
        self.burst = burst
        self.max_buckets = max_buckets
        self._clock = clock
        self._refill_s = burst / requests_per_s
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        shared = range(burst + 1) if burst <= _SHARED_DECISIONS_UP_TO else range(0)
        self._allowed = [Decision(True, burst, remaining) for remaining in shared]

    async def start(self) -> None:
        """Nothing to open."""

    async def close(self) -> None:
        """Forget every bucket."""
        self._buckets.clear()

    async def hit(self, key: str) -> Decision:
        """Take one token from ``key``'s bucket (see ``RateLimiter.hit``)."""
        return self.take(key)

    def take(self, key: str) -> Decision:
        """``hit`` without the coroutine, for callers outside the event loop."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            self._make_room(now)
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        else:
            self._buckets.move_to_end(key)
            refilled = bucket.tokens + (now - bucket.stamp) * self.requests_per_s
            bucket.tokens = refilled if refilled < self.burst else float(self.burst)
            bucket.stamp = now
        if bucket.tokens < 1.0:
            wait_s = (1.0 - bucket.tokens) / self.requests_per_s
            return Decision(False, self.burst, 0, retry_after_s=wait_s)
        bucket.tokens -= 1.0
        remaining = int(bucket.tokens)
        if remaining < len(self._allowed):
            return self._allowed[remaining]
        return Decision(True, self.burst, remaining)

    def __len__(self) -> int:
        """Buckets held now."""
        return len(self._buckets)

    def _make_room(self, now: float) -> None:
        """Drop buckets idle long enough to be full again, then the oldest while at the bound."""
        buckets = self._buckets
        while buckets:
            oldest_key, oldest = next(iter(buckets.items()))
            if now - oldest.stamp < self._refill_s and len(buckets) < self.max_buckets:
                return
            del buckets[oldest_key]
