"""Turns a presented API key into a Principal, reading the database at most once per TTL per key.

A hit in the in-process cache costs one SHA-256 of the presented key and a dict lookup. The cache is
keyed by the hash of the *whole* presented key, so a request with a known id but a wrong secret never
matches an entry: it goes to the database and fails there. Only keys that verified are cached, which
is why a revoked key keeps working for up to ``ttl_s`` in each process (docs/security.md).

``last_used_at`` is written at most once a minute per key, in a background task: a request never
waits for that write (on SQLite it could queue behind an ingest's write lock).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import anyio

from ragworks.auth.base import KeyStore
from ragworks.auth.errors import InvalidApiKey
from ragworks.auth.keys import ApiKey, parse_key, secret_matches
from ragworks.auth.principal import Principal

log = logging.getLogger(__name__)

TOUCH_EVERY_S = 60.0
MAX_ENTRIES = 10_000
INVALID_MESSAGE = "the API key is not valid: unknown, revoked or expired"


@dataclass(frozen=True, slots=True)
class _Entry:
    principal: Principal
    fresh_until: float  # monotonic
    expires_at: float | None  # wall clock: an expiring key leaves the cache when it expires


class KeyVerifier:
    """Verifies keys against a KeyStore with a small TTL cache; one per serving process."""

    def __init__(
        self,
        store: KeyStore,
        ttl_s: float,
        *,
        max_entries: int = MAX_ENTRIES,
        touch_every_s: float = TOUCH_EVERY_S,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.touch_every_s = touch_every_s
        self._monotonic = monotonic
        self._wall = wall
        self._cache: dict[bytes, _Entry] = {}
        self._touched: dict[str, float] = {}  # key id -> monotonic time of its last recorded use
        self._pending: dict[str, float] = {}  # key id -> wall time, waiting for the writer task
        self._writer: asyncio.Task[None] | None = None

    async def verify(self, presented: str) -> Principal:
        """The caller ``presented`` (a full ``rw_<id>_<secret>`` key) authenticates.

        Raises:
            InvalidApiKey: malformed, unknown, wrong secret, revoked or expired.
            NotReady, Busy: the database could not be read.
        """
        parsed = parse_key(presented)  # also refuses oversized values before they are hashed
        if parsed is None:
            raise InvalidApiKey("the API key is malformed: expected rw_<id>_<secret>")
        digest = hashlib.sha256(presented.encode()).digest()
        entry = self._cache.get(digest)
        if entry is not None and self._still_valid(entry):
            principal = entry.principal
        else:
            key = await anyio.to_thread.run_sync(self._load, *parsed)
            principal = key.principal()
            self._remember(digest, principal, key.expires_at)
        self._note_use(principal.key_id)
        return principal

    def _still_valid(self, entry: _Entry) -> bool:
        return entry.fresh_until > self._monotonic() and (
            entry.expires_at is None or entry.expires_at > self._wall()
        )

    def _load(self, key_id: str, secret: str) -> ApiKey:
        """Read and check the key in the database (in a worker thread)."""
        found = self.store.lookup(key_id)
        if found is None or not secret_matches(secret, found[1]) or found[0].state(self._wall()) != "active":
            raise InvalidApiKey(INVALID_MESSAGE)
        return found[0]

    def _remember(self, digest: bytes, principal: Principal, expires_at: float | None) -> None:
        if self.ttl_s <= 0:
            return
        if len(self._cache) >= self.max_entries:
            for stale in [d for d, e in self._cache.items() if not self._still_valid(e)]:
                del self._cache[stale]
            while len(self._cache) >= self.max_entries:  # still full of live keys: drop the oldest
                del self._cache[next(iter(self._cache))]
        self._cache[digest] = _Entry(principal, self._monotonic() + self.ttl_s, expires_at)

    def _note_use(self, key_id: str | None) -> None:
        """Queue a ``last_used_at`` write when the key's last one is over a minute old."""
        if key_id is None:
            return
        now = self._monotonic()
        last = self._touched.get(key_id)
        if last is not None and now - last < self.touch_every_s:
            return
        self._touched[key_id] = now
        self._pending[key_id] = self._wall()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write_pending())

    async def _write_pending(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, {}
            try:
                await anyio.to_thread.run_sync(self.store.touch, batch)
            except Exception as exc:  # a lost last-used time is no reason to fail anything
                log.warning("could not record API key use", extra={"error": str(exc), "keys": sorted(batch)})

    async def flush(self) -> None:
        """Wait for queued ``last_used_at`` writes (tests and shutdown)."""
        if self._writer is not None:
            await self._writer
