"""Which rate limiter each ``rate_limits.backend`` setting names (one line per backend)."""

from __future__ import annotations

from collections.abc import Callable

from ragworks.config import Settings
from ragworks.engines.ratelimit.base import RateLimiter
from ragworks.engines.ratelimit.memory import MemoryRateLimiter


def _memory(settings: Settings) -> RateLimiter:
    limits = settings.rate_limits
    return MemoryRateLimiter(limits.requests_per_s, limits.burst, max_buckets=limits.max_buckets)


def _redis(settings: Settings) -> RateLimiter:
    from ragworks.engines.ratelimit.redis import RedisRateLimiter

    if not settings.redis.url:
        raise ValueError("rate_limits.backend = 'redis' needs redis.url (RAGWORKS_REDIS__URL)")
    limits = settings.rate_limits
    return RedisRateLimiter(
        settings.redis.url, limits.requests_per_s, limits.burst, timeout_s=limits.redis_timeout_s
    )


BACKENDS: dict[str, Callable[[Settings], RateLimiter]] = {
    "memory": _memory,
    "redis": _redis,
}


def build_rate_limiter(settings: Settings) -> RateLimiter:
    """The limiter ``rate_limits.backend`` names; ``auto`` is Redis when ``redis.url`` is set (every API
    process then shares one bucket per caller), else memory.

    Raises:
        ValueError: ``redis`` is chosen but ``redis.url`` is not set.
    """
    backend = settings.rate_limits.backend
    if backend == "auto":
        backend = "redis" if settings.redis.url else "memory"
    return BACKENDS[backend](settings)
