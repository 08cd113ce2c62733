"""Redis Streams adapter of the stream port (redis.asyncio): a consumer group member and an XADD publisher.

URL: ``redis://[:password@]host:port/db`` (or ``rediss://``), as redis-py reads it; a ``maxlen=N`` query
parameter makes the publisher trim each stream it appends to at about N entries (``XADD MAXLEN ~``);
without it streams are never trimmed. The stream is the Redis key; the group is the consumer group
(created with ``MKSTREAM`` from the stream's start, ``0``); the consumer name is the group's consumer.

An entry's fields: ``v`` the body (absent for a tombstone), ``k`` the key (absent without one) and
``h:<name>`` one per header (values UTF-8); a tombstone with neither key nor headers has the single
field ``t`` (empty), since an entry needs one.

A fetch takes, in this order:

1. after ``start``, this consumer's own pending entries (``XREADGROUP`` from ``0``): what it was given
   before a restart and never acknowledged, read once through;
2. entries any consumer left pending longer than ``redeliver_after_s`` (``XAUTOCLAIM``);
3. new entries (``XREADGROUP >``), blocking up to ``wait_s``.

``deliveries`` of 1 and 2 comes from the group's delivery counter (``XPENDING``). ``lag`` is the
group's ``lag`` from ``XINFO GROUPS`` (Redis 7+; None where Redis cannot tell, after trimming).
A connection failure raises ``StreamUnavailable``; a group lost with the broker's data (a restart
without persistence) is created again on the next fetch.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ragworks.engines.streams.base import SourceOptions, StreamMessage, StreamUnavailable

VALUE_FIELD = b"v"
KEY_FIELD = b"k"
HEADER_PREFIX = b"h:"
TOMBSTONE_FIELD = b"t"  # only in a tombstone without key or headers, which would have no field at all
BLOCK_SLICE_S = 5.0  # a blocking read waits at most this long per call, well inside the socket timeout
SOCKET_TIMEOUT_S = BLOCK_SLICE_S + 10.0
CONNECT_TIMEOUT_S = 5.0

Entry = tuple[bytes, dict[bytes, bytes] | None]


def encode_fields(value: bytes | None, key: bytes | None, headers: Mapping[str, str]) -> dict[bytes, bytes]:
    """An entry's fields for a message (see the module docstring)."""
    fields = {HEADER_PREFIX + name.encode(): text.encode() for name, text in headers.items()}
    if value is not None:
        fields[VALUE_FIELD] = value
    if key is not None:
        fields[KEY_FIELD] = key
    return fields or {TOMBSTONE_FIELD: b""}  # XADD needs a field


def decode_entry(stream: str, entry: Entry, deliveries: int) -> StreamMessage:
    """The message an entry holds."""
    entry_id, fields = entry
    fields = fields or {}
    headers = {
        name[len(HEADER_PREFIX) :].decode(): text.decode()
        for name, text in fields.items()
        if name.startswith(HEADER_PREFIX)
    }
    position = entry_id.decode()
    return StreamMessage(
        stream=stream,
        value=fields.get(VALUE_FIELD),
        key=fields.get(KEY_FIELD),
        headers=headers,
        position=position,
        deliveries=deliveries,
        receipt=position,
    )


def split_url(url: str) -> tuple[str, int | None]:
    """The URL redis-py understands and the ``maxlen`` query parameter taken out of it."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    maxlen = [int(v) for k, v in query if k == "maxlen"]
    rest = urlencode([(k, v) for k, v in query if k != "maxlen"])
    return urlunsplit(parts._replace(query=rest)), (maxlen[-1] if maxlen else None)


def connect(url: str) -> Any:
    """A redis.asyncio client for ``url`` (no connection is made yet)."""
    try:
        import redis.asyncio as redis_asyncio
    except ImportError as exc:  # pragma: no cover - the extra is part of dev installs
        raise RuntimeError("redis:// streams need: pip install 'ragworks[redis]'") from exc
    return redis_asyncio.Redis.from_url(
        url, socket_timeout=SOCKET_TIMEOUT_S, socket_connect_timeout=CONNECT_TIMEOUT_S
    )


@contextmanager
def unavailable_on_connection_errors(url: str) -> Iterator[None]:
    """Turn redis-py's connection and timeout errors into ``StreamUnavailable``."""
    import redis.exceptions

    try:
        yield
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as exc:
        where = urlsplit(url)
        raise StreamUnavailable(
            f"Redis at {where.hostname}:{where.port or 6379} is unavailable: {exc}"
        ) from exc


def is_missing_group(exc: Exception) -> bool:
    """Whether Redis answered that the stream or group does not exist (lost with a restart)."""
    return str(exc).startswith("NOGROUP")


class RedisStreamSource:
    """A consumer of one Redis stream in a consumer group (see the module docstring)."""

    def __init__(self, url: str, stream: str, options: SourceOptions) -> None:
        self.url, _ = split_url(url)
        self.stream = stream
        self.options = options
        self._client: Any = None
        self._history_from: bytes | None = b"0"  # own pending entries still to read after start
        self._claim_from = b"0-0"

    async def start(self) -> None:
        """Connect and create the group (with the stream) where missing."""
        self._client = connect(self.url)
        with unavailable_on_connection_errors(self.url):
            await self._create_group()

    async def _create_group(self) -> None:
        import redis.exceptions

        try:
            await self._client.xgroup_create(self.stream, self.options.group, id="0", mkstream=True)
        except redis.exceptions.ResponseError as exc:
            if not str(exc).startswith("BUSYGROUP"):
                raise

    async def fetch(self, limit: int, wait_s: float) -> list[StreamMessage]:
        """Own pending entries after a restart, then entries taken over, then new ones."""
        import redis.exceptions

        if limit < 1:
            return []
        with unavailable_on_connection_errors(self.url):
            try:
                return await self._fetch(limit, wait_s)
            except redis.exceptions.ResponseError as exc:
                if not is_missing_group(exc):
                    raise
                await self._create_group()
                self._history_from, self._claim_from = None, b"0-0"
                return await self._fetch(limit, wait_s)

    async def _fetch(self, limit: int, wait_s: float) -> list[StreamMessage]:
        again = await self._own_pending(limit)
        if len(again) < limit:
            again += await self._claim_idle(limit - len(again), {entry_id for entry_id, _ in again})
        messages = await self._with_deliveries(again)
        if len(messages) < limit:
            messages += await self._read_new(limit - len(messages), 0.0 if messages else wait_s)
        return messages

    async def _own_pending(self, limit: int) -> list[Entry]:
        """The next of this consumer's pending entries, once through after start."""
        if self._history_from is None:
            return []
        entries = await self._read_group(self._history_from, limit, block_ms=None)
        if not entries:
            self._history_from = None
            return []
        self._history_from = entries[-1][0]
        gone = [entry_id for entry_id, fields in entries if not fields]  # read back without fields
        if gone:  # trimmed away while pending: nothing left to deliver
            await self._client.xack(self.stream, self.options.group, *gone)
        return [entry for entry in entries if entry[1]]

    async def _claim_idle(self, limit: int, skip: set[bytes]) -> list[Entry]:
        """Entries pending longer than ``redeliver_after_s`` with any consumer, now this one's."""
        idle_ms = max(1, int(self.options.redeliver_after_s * 1000))
        reply = await self._client.xautoclaim(
            self.stream,
            self.options.group,
            self.options.consumer,
            idle_ms,
            start_id=self._claim_from,
            count=limit,
        )
        self._claim_from = reply[0]
        return [entry for entry in reply[1] if entry[1] and entry[0] not in skip]

    async def _read_new(self, limit: int, wait_s: float) -> list[StreamMessage]:
        """New entries, waiting up to ``wait_s`` in slices the socket timeout allows."""
        deadline = time.monotonic() + wait_s
        while True:
            left = deadline - time.monotonic()
            block_ms = int(min(left, BLOCK_SLICE_S) * 1000) if left >= 0.001 else None
            entries = await self._read_group(b">", limit, block_ms)
            if entries or block_ms is None or time.monotonic() >= deadline:
                return [decode_entry(self.stream, entry, 1) for entry in entries]

    async def _read_group(self, from_id: bytes, limit: int, block_ms: int | None) -> list[Entry]:
        reply = await self._client.xreadgroup(
            self.options.group, self.options.consumer, {self.stream: from_id}, count=limit, block=block_ms
        )
        if not reply:
            return []
        return list(reply[0][1])

    async def _with_deliveries(self, entries: list[Entry]) -> list[StreamMessage]:
        """Messages for entries delivered before, with the group's delivery counts."""
        if not entries:
            return []
        ids = [entry_id for entry_id, _ in entries]
        pending = await self._client.xpending_range(
            self.stream,
            self.options.group,
            min=min(ids, key=entry_order),
            max=max(ids, key=entry_order),
            count=len(ids) + 1000,
            consumername=self.options.consumer,
        )
        counts = {row["message_id"]: int(row["times_delivered"]) for row in pending}
        return [decode_entry(self.stream, entry, max(2, counts.get(entry[0], 2))) for entry in entries]

    async def ack(self, messages: Sequence[StreamMessage]) -> None:
        """XACK the messages' entries."""
        if not messages:
            return
        with unavailable_on_connection_errors(self.url):
            await self._client.xack(self.stream, self.options.group, *[str(m.receipt) for m in messages])

    async def lag(self) -> int | None:
        """Entries the group has not been delivered yet (``XINFO GROUPS`` lag)."""
        import redis.exceptions

        with unavailable_on_connection_errors(self.url):
            try:
                groups = await self._client.xinfo_groups(self.stream)
            except redis.exceptions.ResponseError:  # the stream is gone (the next fetch recreates it)
                return None
        for group in groups:
            name = group["name"]
            if (name.decode() if isinstance(name, bytes) else name) == self.options.group:
                lag = group.get("lag")
                return None if lag is None else int(lag)
        return None

    async def close(self) -> None:
        """Disconnect; pending entries stay with this consumer name."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def entry_order(entry_id: bytes) -> tuple[int, int]:
    """A Redis entry id as a sortable pair (milliseconds, sequence)."""
    millis, _, sequence = entry_id.partition(b"-")
    return int(millis), int(sequence or 0)


class RedisStreamPublisher:
    """Appends entries to Redis streams with XADD, trimmed to about ``maxlen`` entries where set."""

    def __init__(self, url: str, *, maxlen: int | None = None) -> None:
        self.url, url_maxlen = split_url(url)
        self.maxlen = maxlen if maxlen is not None else url_maxlen
        self._client: Any = None

    async def start(self) -> None:
        """Create the client; the first publish connects."""
        self._client = connect(self.url)

    async def publish(
        self,
        stream: str,
        value: bytes | None,
        *,
        key: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> str:
        """XADD one entry; returns its id."""
        fields = encode_fields(value, key, headers or {})
        with unavailable_on_connection_errors(self.url):
            entry_id = await self._client.xadd(
                stream, fields, maxlen=self.maxlen, approximate=self.maxlen is not None
            )
        return str(entry_id.decode() if isinstance(entry_id, bytes) else entry_id)

    async def close(self) -> None:
        """Disconnect."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None
