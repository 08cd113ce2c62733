"""The RateLimiter port: one token bucket per caller, ``requests_per_s`` sustained, ``burst`` at once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one request against its caller's bucket."""

    allowed: bool
    limit: int
    """The bucket's size (``burst``): the most requests a caller can make at once."""
    remaining: int
    """Whole requests left in the bucket after this one (0 when refused)."""
    retry_after_s: float = 0.0
    """When refused: seconds until the bucket holds a whole request again."""
    checked: bool = True
    """False when the bucket could not be read (its store is down) and the request was let through."""


class RateLimiter(Protocol):
    """Token buckets keyed by caller (an API key id or a client address).

    A bucket starts full with ``burst`` tokens, refills at ``requests_per_s`` up to ``burst``, and each
    request takes one token; a request that finds less than one is refused and told how long until one
    is there. A caller unseen for long enough to have refilled is the same as a new one, so adapters
    may forget idle buckets.
    """

    requests_per_s: float
    burst: int

    async def start(self) -> None:
        """Open connections (the app's start-up); a store that is down must not fail start-up."""

    async def hit(self, key: str) -> Decision:
        """Take one token from ``key``'s bucket.

        Args:
            key: the caller; any string, buckets of different keys never share tokens.

        Returns:
            Whether the request may proceed, what is left, and when to retry if not. Never raises for
            an unavailable store: it answers ``allowed=True, checked=False`` instead (fail open).
        """

    async def close(self) -> None:
        """Release connections (the app's shutdown)."""
