"""NATS JetStream adapter of the stream port (nats-py): a durable pull consumer and a JetStream publisher.

URL: ``nats://[user:password@]host:port`` (``tls://`` too, as nats-py reads it). The stream is a NATS
subject. The JetStream stream that stores it is the one that already captures the subject, else one
created on first use (file storage, no limits) named ``extra["jetstream"]`` when the source gives it,
else ``RAGWORKS_<subject>`` (characters a stream name cannot hold, such as ``.``, become ``_``); a stream
named in ``extra`` that exists without capturing the subject is an error.
A publisher finds or creates the stream the same way (without ``extra``) when the first publish to a
subject finds none.

The group is one durable pull consumer (explicit ack, ``ack_wait = redeliver_after_s``, from the
stream's start, filtered to the subject), shared by every consumer name of the group: JetStream hands
each message to one fetch at a time, and redelivers it to whichever consumer fetches next once
``ack_wait`` has passed without an ack. So a consumer restarted under the same name gets back what it
had not acknowledged after ``redeliver_after_s``, not at once. On a stream that captures several
subjects, a group reads one subject (its durable consumer's filter). A fetch that returns early keeps
the rest of its pull request open until ``wait_s`` ends; what arrives for it meanwhile waits in this
source for its next fetch (and goes to another consumer if that comes later than ``ack_wait``).

Messages: ``position`` is the stream sequence, ``deliveries`` the server's delivery count. The key
travels in the header ``Ragworks-Key`` (UTF-8 text) or, when it is not printable UTF-8,
``Ragworks-Key-B64`` (base64); a tombstone is an empty body with the header ``Ragworks-Tombstone: 1``
(an empty body without it is an empty value). These headers are reserved and never shown as the
message's headers. Publishing waits for JetStream's ack; acknowledging sends the acks and flushes the
connection, so the server has them when ``ack`` returns. Extra options: ``jetstream`` (str, the
JetStream stream's name).
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any
from urllib.parse import urlsplit

from ragworks.engines.streams.base import SourceOptions, StreamMessage, StreamUnavailable

log = logging.getLogger(__name__)

KEY_HEADER = "Ragworks-Key"
KEY_B64_HEADER = "Ragworks-Key-B64"
TOMBSTONE_HEADER = "Ragworks-Tombstone"
RESERVED_HEADERS = frozenset({KEY_HEADER, KEY_B64_HEADER, TOMBSTONE_HEADER})
CONNECT_TIMEOUT_S = 5
INITIAL_CONNECT_ATTEMPTS = 2
REQUEST_TIMEOUT_S = 5.0
MIN_FETCH_WAIT_S = 0.05  # nats-py needs a positive fetch timeout
NOT_A_NAME = re.compile(r"[^A-Za-z0-9_-]")


def stream_name_for(subject: str) -> str:
    """The JetStream stream created for ``subject`` when none captures it."""
    return "RAGWORKS_" + NOT_A_NAME.sub("_", subject)


def durable_name_for(group: str) -> str:
    """The durable consumer's name for a group (characters a name cannot hold become ``_``)."""
    return NOT_A_NAME.sub("_", group)


def encode_headers(value: bytes | None, key: bytes | None, headers: Mapping[str, str]) -> dict[str, str]:
    """The NATS headers carrying a message's headers, key and tombstone mark."""
    if reserved := RESERVED_HEADERS & set(headers):
        raise ValueError(f"headers {sorted(reserved)} are reserved by the NATS stream adapter")
    encoded = dict(headers)
    if key is not None:
        try:
            text = key.decode()
            printable = text.isprintable()
        except UnicodeDecodeError:
            printable = False
        if printable:
            encoded[KEY_HEADER] = text
        else:
            encoded[KEY_B64_HEADER] = base64.b64encode(key).decode()
    if value is None:
        encoded[TOMBSTONE_HEADER] = "1"
    return encoded


def decode_message(subject: str, msg: Any) -> StreamMessage:
    """The stream message a JetStream delivery holds."""
    headers: dict[str, str] = dict(msg.headers or {})
    key: bytes | None = None
    if KEY_HEADER in headers:
        key = headers[KEY_HEADER].encode()
    elif KEY_B64_HEADER in headers:
        try:
            key = base64.b64decode(headers[KEY_B64_HEADER], validate=True)
        except binascii.Error:
            key = None
    tombstone = headers.get(TOMBSTONE_HEADER) == "1"
    metadata = msg.metadata
    return StreamMessage(
        stream=subject,
        value=None if tombstone else bytes(msg.data),
        key=key,
        headers={name: text for name, text in headers.items() if name not in RESERVED_HEADERS},
        position=str(metadata.sequence.stream),
        deliveries=int(metadata.num_delivered),
        receipt=msg,
    )


@contextmanager
def unavailable_on_connection_errors(url: str) -> Iterator[None]:
    """Turn nats-py's connection, timeout and no-responder errors into ``StreamUnavailable``."""
    import nats.errors
    import nats.js.errors

    try:
        yield
    except (
        nats.errors.NoServersError,
        nats.errors.ConnectionClosedError,
        nats.errors.ConnectionReconnectingError,
        nats.errors.StaleConnectionError,
        nats.errors.OutboundBufferLimitError,
        nats.errors.TimeoutError,
        nats.errors.NoRespondersError,
        nats.js.errors.ServiceUnavailableError,
        OSError,
    ) as exc:
        where = urlsplit(url)
        reason = str(exc) or type(exc).__name__
        raise StreamUnavailable(
            f"NATS at {where.hostname}:{where.port or 4222} is unavailable: {reason}"
        ) from exc


async def connect(url: str) -> Any:
    """A connected nats-py client (it reconnects by itself after a broker restart)."""
    try:
        import nats
    except ImportError as exc:  # pragma: no cover - the extra is part of dev installs
        raise RuntimeError("nats:// streams need: pip install 'ragworks[streams]'") from exc

    async def log_error(exc: Exception) -> None:
        """Connection errors surface as StreamUnavailable from the calls that meet them; log them only."""
        log.debug("NATS connection error: %r", exc)

    with unavailable_on_connection_errors(url):
        nc = await nats.connect(
            servers=[url],
            connect_timeout=CONNECT_TIMEOUT_S,
            max_reconnect_attempts=INITIAL_CONNECT_ATTEMPTS,
            reconnect_time_wait=1,
            error_cb=log_error,
        )
    # a first connection gives up after a few tries (an unreachable broker is reported, not waited
    # for); once connected, the client keeps reconnecting through broker restarts
    nc.options["max_reconnect_attempts"] = -1
    return nc


async def close_quietly(nc: Any) -> None:
    """Close a client; one whose broker is gone cannot flush what it buffered, which is not an error
    here (unacknowledged messages are redelivered, unconfirmed publishes were reported)."""
    with suppress(OSError):
        await nc.close()


async def ensure_stream(js: Any, subject: str, name: str | None = None) -> str:
    """The JetStream stream that stores ``subject``, created where none does."""
    from nats.js.api import StorageType
    from nats.js.errors import NotFoundError

    try:
        return str(await js.find_stream_name_by_subject(subject))
    except NotFoundError:
        pass
    name = name or stream_name_for(subject)
    try:
        await js.stream_info(name)
    except NotFoundError:
        await js.add_stream(name=name, subjects=[subject], storage=StorageType.FILE)
        return name
    raise ValueError(f"the JetStream stream {name} exists but does not capture the subject '{subject}'")


class JetStreamSource:
    """A member of a group reading one subject through a durable pull consumer (module docstring)."""

    def __init__(self, url: str, stream: str, options: SourceOptions) -> None:
        self.url = url
        self.stream = stream
        self.options = options
        jetstream = options.extra.get("jetstream")
        self.jetstream = str(jetstream) if jetstream else None
        self._nc: Any = None
        self._sub: Any = None

    async def start(self) -> None:
        """Connect; create the JetStream stream and the durable consumer where missing."""
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

        self._nc = await connect(self.url)
        js = self._nc.jetstream(timeout=REQUEST_TIMEOUT_S)
        durable = durable_name_for(self.options.group)
        config = ConsumerConfig(
            durable_name=durable,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.options.redeliver_after_s,
            deliver_policy=DeliverPolicy.ALL,
            filter_subject=self.stream,
        )
        with unavailable_on_connection_errors(self.url):
            name = await ensure_stream(js, self.stream, self.jetstream)
            await js.add_consumer(name, config)
            self._sub = await js.pull_subscribe_bind(durable, stream=name)

    async def fetch(self, limit: int, wait_s: float) -> list[StreamMessage]:
        """Up to ``limit`` messages the consumer hands this fetch (redeliveries first, as JetStream
        orders them), waiting up to ``wait_s``."""
        if limit < 1:
            return []
        with unavailable_on_connection_errors(self.url):
            try:
                msgs = await self._sub.fetch(batch=limit, timeout=max(wait_s, MIN_FETCH_WAIT_S))
            except TimeoutError:  # nats' own, or asyncio's from inside fetch on a busy machine: no messages
                if not self._nc.is_connected:
                    raise
                return []
        return [decode_message(self.stream, msg) for msg in msgs]

    async def ack(self, messages: Sequence[StreamMessage]) -> None:
        """Acknowledge the messages and flush, so the server has every ack when this returns."""
        import nats.errors

        if not messages:
            return
        with unavailable_on_connection_errors(self.url):
            for message in messages:
                with suppress(nats.errors.MsgAlreadyAckdError):
                    await message.receipt.ack()  # type: ignore[attr-defined]
            await self._nc.flush(timeout=int(REQUEST_TIMEOUT_S))

    async def lag(self) -> int | None:
        """Messages of the subject the durable consumer has not delivered yet (``num_pending``)."""
        with unavailable_on_connection_errors(self.url):
            info = await self._sub.consumer_info()
        return None if info.num_pending is None else int(info.num_pending)

    async def close(self) -> None:
        """Disconnect; the durable consumer and its unacknowledged messages stay on the server."""
        if self._nc is not None:
            nc, self._nc, self._sub = self._nc, None, None
            await close_quietly(nc)


class JetStreamPublisher:
    """Publishes to subjects through JetStream, waiting for each message's stream ack."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._nc: Any = None
        self._js: Any = None

    async def start(self) -> None:
        """Connect."""
        self._nc = await connect(self.url)
        self._js = self._nc.jetstream(timeout=REQUEST_TIMEOUT_S)

    async def publish(
        self,
        stream: str,
        value: bytes | None,
        *,
        key: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> str:
        """Publish one message and wait for JetStream's ack; returns its stream sequence."""
        from nats.js.errors import NoStreamResponseError

        encoded = encode_headers(value, key, headers or {})
        with unavailable_on_connection_errors(self.url):
            try:
                ack = await self._js.publish(stream, value or b"", headers=encoded or None)
            except NoStreamResponseError:  # no stream captures the subject yet
                await ensure_stream(self._js, stream)
                ack = await self._js.publish(stream, value or b"", headers=encoded or None)
        return str(ack.seq)

    async def close(self) -> None:
        """Flush and disconnect."""
        if self._nc is not None:
            nc, self._nc, self._js = self._nc, None, None
            await close_quietly(nc)
