"""Token buckets in Redis, shared by every API process of the scaled profile.

Each request is one EVALSHA of a Lua script that refills, takes and stores the bucket atomically, with
Redis's own clock (so API hosts whose clocks differ agree). A bucket is a hash that expires once it
would be full again, so idle callers cost nothing. Rate limits protect the service but must never be
the reason it is down: when Redis is slow or unreachable, requests go through unchecked (a warning at
most once a minute, ``checked=False`` for the metric) and Redis is not asked again for a second.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from ragworks.engines.ratelimit.base import Decision

log = logging.getLogger(__name__)

KEY_PREFIX = "ragworks:ratelimit:"
WARN_EVERY_S = 60.0
PAUSE_AFTER_FAILURE_S = 1.0  # while Redis is down, each request would otherwise wait for its timeout
# A new connection (TCP, HELLO) takes longer than a command, most of all when a burst of requests opens
# many at once; connections are reused, and a dead host costs at most one such wait per pause.
CONNECT_TIMEOUT_S = 1.0
# Requests past this many in flight wait (up to the command timeout) for a free connection rather than
# opening more: a traffic spike must not become a connection storm on Redis.
MAX_CONNECTIONS = 32

# KEYS[1] the bucket; ARGV: requests per second, burst, TTL in ms.
# Returns {allowed (0/1), whole tokens left, ms until one token is there (0 when allowed)}.
TOKEN_BUCKET_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(state[1])
local stamp = tonumber(state[2])
if tokens == nil or stamp == nil then
  tokens = burst
else
  tokens = math.min(burst, tokens + math.max(0, now - stamp) * rate)
end
local allowed = 0
local wait_ms = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait_ms = math.ceil((1 - tokens) / rate * 1000)
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'stamp', now)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {allowed, math.floor(tokens), wait_ms}
"""


class RedisRateLimiter:
    """Buckets in Redis under ``ragworks:ratelimit:<key>``; fails open when Redis is unavailable."""

    def __init__(self, url: str, requests_per_s: float, burst: int, *, timeout_s: float = 0.05) -> None:
        self.url = url
        self.requests_per_s = requests_per_s
        self.burst = burst
        self.timeout_s = timeout_s
        # Past this a bucket has refilled, so it may as well not exist (+1 s for clock granularity).
        self._ttl_ms = math.ceil(burst / requests_per_s * 1000) + 1000
        self._args = (requests_per_s, burst, self._ttl_ms)
        self._unchecked = Decision(True, burst, burst, checked=False)
        self._client: Any = None
        self._script: Any = None
        self._paused_until = 0.0
        self._warned_at = -WARN_EVERY_S

    async def start(self) -> None:
        """Make the client; connections open on first use, so a Redis that is down fails no start-up.

        Raises:
            RuntimeError: the redis package is not installed.
        """
        try:
            import redis.asyncio
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff
        except ImportError as exc:  # pragma: no cover - the extra is part of dev installs
            raise RuntimeError("rate_limits.backend = 'redis' needs: pip install 'ragworks[redis]'") from exc
        pool = redis.asyncio.BlockingConnectionPool.from_url(
            self.url,
            max_connections=MAX_CONNECTIONS,
            timeout=self.timeout_s,
            socket_timeout=self.timeout_s,
            socket_connect_timeout=max(self.timeout_s, CONNECT_TIMEOUT_S),
            retry=Retry(NoBackoff(), 0),  # one try: a retried check would only add to the request's wait
        )
        self._client = redis.asyncio.Redis.from_pool(pool)
        # EVALSHA, and SCRIPT LOAD once when Redis does not know the script (first use, or a restart)
        self._script = self._client.register_script(TOKEN_BUCKET_LUA)

    async def close(self) -> None:
        """Close the connection pool."""
        if self._client is not None:
            client, self._client, self._script = self._client, None, None
            await client.aclose()

    async def hit(self, key: str) -> Decision:
        """Take one token from ``key``'s bucket (see ``RateLimiter.hit``); fails open."""
        if self._script is None:
            await self.start()
        if self._paused_until and time.monotonic() < self._paused_until:
            return self._unchecked
        try:
            allowed, remaining, wait_ms = await self._script(keys=[KEY_PREFIX + key], args=self._args)
        except Exception as exc:  # any Redis failure (refused, timed out, script error): let it through
            self._paused_until = time.monotonic() + PAUSE_AFTER_FAILURE_S
            self._warn(exc)
            return self._unchecked
        self._paused_until = 0.0
        if allowed:
            return Decision(True, self.burst, int(remaining))
        return Decision(False, self.burst, 0, retry_after_s=int(wait_ms) / 1000)

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY_S:
            self._warned_at = now
            log.warning(
                "rate limit store unavailable; requests go through unchecked",
                extra={"error": f"{type(exc).__name__}: {exc}"},
            )
