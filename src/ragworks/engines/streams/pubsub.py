"""Google Cloud Pub/Sub adapter of the stream port (google-cloud-pubsub, synchronous pull in a thread).

URL: ``pubsub://PROJECT_ID``. The emulator is used when ``PUBSUB_EMULATOR_HOST`` is set (the client
library does that itself) or when the URL says ``?emulator=host:port``. Credentials otherwise come from
the environment (Application Default Credentials).

Our stream is the topic; the group is the subscription ``<topic>.<group>``, created where missing (with
the topic) with message ordering on and exactly-once delivery off. A subscription gets only messages
published after it exists: start a group's first source before publishing what it must read (unlike
Redis, NATS or Kafka, Pub/Sub keeps nothing for a group it does not know yet).

Redelivery: the subscription's ack deadline is ``redeliver_after_s`` rounded up, but at least 10 s,
Pub/Sub's floor for a subscription; each fetched message's deadline is then set to ``redeliver_after_s``
itself (``modifyAckDeadline`` allows 1 to 600 s), so an unacknowledged message comes back after
``redeliver_after_s`` whatever deadline the subscription was created with. Pub/Sub alone decides who
gets it then: the same consumer or another; it does not hand a restarted consumer its messages sooner.

A tombstone is empty data with the attribute ``ragworks-tombstone = "1"``, an empty body empty data
with ``ragworks-tombstone = "0"`` (Pub/Sub refuses a message with neither data nor attributes); the key
is the ordering key (text: keys are decoded and encoded as UTF-8); headers are the other attributes. ``deliveries`` is
Pub/Sub's delivery attempt where the subscription has a dead-letter policy, else 1. ``lag`` is unknown
(None): the backlog is only published through Cloud Monitoring.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import anyio

from ragworks.engines.streams.base import SourceOptions, StreamMessage, StreamUnavailable

TOMBSTONE_ATTRIBUTE = "ragworks-tombstone"
MIN_SUBSCRIPTION_DEADLINE_S = 10
MAX_DEADLINE_S = 600
# every call gives up after this (without retrying: the caller retries on StreamUnavailable), so an
# unreachable service is reported instead of retried inside the library for minutes
REQUEST_TIMEOUT_S = 10.0


class PublisherClient(Protocol):
    """The part of ``google.cloud.pubsub_v1.PublisherClient`` this adapter uses."""

    def create_topic(self, *, request: Mapping[str, Any], retry: Any, timeout: float) -> Any: ...

    def publish(
        self, topic: str, data: bytes, ordering_key: str = "", *, timeout: float, **attrs: str
    ) -> Any: ...

    def resume_publish(self, topic: str, ordering_key: str) -> None: ...

    def stop(self) -> None: ...


class SubscriberClient(Protocol):
    """The part of ``google.cloud.pubsub_v1.SubscriberClient`` this adapter uses."""

    def create_subscription(self, *, request: Mapping[str, Any], retry: Any, timeout: float) -> Any: ...

    def pull(self, *, request: Mapping[str, Any], timeout: float, retry: Any) -> Any: ...

    def acknowledge(self, *, request: Mapping[str, Any], retry: Any, timeout: float) -> None: ...

    def modify_ack_deadline(self, *, request: Mapping[str, Any], retry: Any, timeout: float) -> None: ...

    def close(self) -> None: ...


class GoogleClients:
    """Builds the library's clients, for the emulator when one is named; tests replace the module's
    ``_client_factory`` with an in-memory Pub/Sub."""

    def publisher(self, emulator: str | None) -> PublisherClient:
        import google.cloud.pubsub_v1 as pubsub_v1

        options = pubsub_v1.types.PublisherOptions(enable_message_ordering=True)
        if emulator is None:
            client: PublisherClient = pubsub_v1.PublisherClient(publisher_options=options)
            return client
        import grpc
        from google.pubsub_v1.services.publisher.transports import PublisherGrpcTransport

        transport = PublisherGrpcTransport(channel=grpc.insecure_channel(emulator))
        emulated: PublisherClient = pubsub_v1.PublisherClient(publisher_options=options, transport=transport)
        return emulated

    def subscriber(self, emulator: str | None) -> SubscriberClient:
        import google.cloud.pubsub_v1 as pubsub_v1

        if emulator is None:
            client: SubscriberClient = pubsub_v1.SubscriberClient()
            return client
        import grpc
        from google.pubsub_v1.services.subscriber.transports import SubscriberGrpcTransport

        transport = SubscriberGrpcTransport(channel=grpc.insecure_channel(emulator))
        emulated: SubscriberClient = pubsub_v1.SubscriberClient(transport=transport)
        return emulated


_client_factory: GoogleClients = GoogleClients()


def _api_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean Pub/Sub cannot serve us right now."""
    from google.api_core.exceptions import GoogleAPIError

    return (GoogleAPIError, OSError)


def parse_url(url: str) -> tuple[str, str | None]:
    """``pubsub://PROJECT[?emulator=host:port]`` -> (project, emulator host or None)."""
    parts = urlsplit(url)
    if parts.scheme != "pubsub" or not parts.netloc:
        raise ValueError(f"not a Pub/Sub URL (pubsub://PROJECT_ID[?emulator=host:port]): {url!r}")
    emulator = parse_qs(parts.query).get("emulator", [None])[0]
    return parts.netloc, emulator


def _ensure_topic(publisher: PublisherClient, topic_path: str) -> None:
    from google.api_core.exceptions import AlreadyExists

    with contextlib.suppress(AlreadyExists):
        publisher.create_topic(request={"name": topic_path}, retry=None, timeout=REQUEST_TIMEOUT_S)


class PubSubSource:
    """A consumer of one Pub/Sub subscription (``<topic>.<group>``)."""

    def __init__(self, url: str, stream: str, options: SourceOptions) -> None:
        self.stream = stream
        self.options = options
        self._project, self._emulator = parse_url(url)
        self._topic_path = f"projects/{self._project}/topics/{stream}"
        self._subscription_path = f"projects/{self._project}/subscriptions/{stream}.{options.group}"
        self._redeliver_s = max(1, min(MAX_DEADLINE_S, math.ceil(options.redeliver_after_s)))
        self._subscriber: SubscriberClient | None = None

    async def start(self) -> None:
        """Create the topic and the subscription where missing."""
        try:
            self._subscriber = await anyio.to_thread.run_sync(self._connect)
        except _api_errors() as exc:
            raise StreamUnavailable(f"Pub/Sub {self._subscription_path}: {exc}") from exc

    def _connect(self) -> SubscriberClient:
        from google.api_core.exceptions import AlreadyExists

        publisher = _client_factory.publisher(self._emulator)
        try:
            _ensure_topic(publisher, self._topic_path)
        finally:
            publisher.stop()
        subscriber = _client_factory.subscriber(self._emulator)
        request = {
            "name": self._subscription_path,
            "topic": self._topic_path,
            "ack_deadline_seconds": max(MIN_SUBSCRIPTION_DEADLINE_S, self._redeliver_s),
            "enable_message_ordering": True,
            "enable_exactly_once_delivery": False,
        }
        try:
            subscriber.create_subscription(request=request, retry=None, timeout=REQUEST_TIMEOUT_S)
        except AlreadyExists:
            pass
        except BaseException:
            subscriber.close()
            raise
        return subscriber

    async def fetch(self, limit: int, wait_s: float) -> list[StreamMessage]:
        """Pull up to ``limit`` messages, waiting up to ``wait_s`` for the first."""
        subscriber = self._started()
        try:
            return await anyio.to_thread.run_sync(self._pull, subscriber, limit, wait_s)
        except _api_errors() as exc:
            raise StreamUnavailable(f"Pub/Sub pull from {self._subscription_path}: {exc}") from exc

    def _pull(self, subscriber: SubscriberClient, limit: int, wait_s: float) -> list[StreamMessage]:
        from google.api_core.exceptions import DeadlineExceeded

        deadline = time.monotonic() + wait_s
        request = {"subscription": self._subscription_path, "max_messages": limit}
        while True:
            remaining = deadline - time.monotonic()
            try:
                # a pull without messages returns when the timeout ends (or the server gives up earlier)
                response = subscriber.pull(request=request, timeout=max(remaining, 0.1), retry=None)
            except DeadlineExceeded:
                return []
            received = list(response.received_messages)
            if received or remaining <= 0:
                break
        if received:
            ack_ids = [item.ack_id for item in received]
            subscriber.modify_ack_deadline(
                request={
                    "subscription": self._subscription_path,
                    "ack_ids": ack_ids,
                    "ack_deadline_seconds": self._redeliver_s,
                },
                retry=None,
                timeout=REQUEST_TIMEOUT_S,
            )
        return [self._message(item) for item in received]

    def _message(self, item: Any) -> StreamMessage:
        attributes = dict(item.message.attributes)
        tombstone = attributes.pop(TOMBSTONE_ATTRIBUTE, None) == "1"
        ordering_key = item.message.ordering_key
        return StreamMessage(
            stream=self.stream,
            value=None if tombstone else bytes(item.message.data),
            key=ordering_key.encode() if ordering_key else None,
            headers=attributes,
            position=item.message.message_id,
            deliveries=max(1, int(item.delivery_attempt or 0)),
            receipt=item.ack_id,
        )

    async def ack(self, messages: Sequence[StreamMessage]) -> None:
        """Acknowledge the messages' ack ids."""
        if not messages:
            return
        subscriber = self._started()
        request = {"subscription": self._subscription_path, "ack_ids": [m.receipt for m in messages]}
        try:
            await anyio.to_thread.run_sync(
                lambda: subscriber.acknowledge(request=request, retry=None, timeout=REQUEST_TIMEOUT_S)
            )
        except _api_errors() as exc:
            raise StreamUnavailable(f"Pub/Sub ack on {self._subscription_path}: {exc}") from exc

    async def lag(self) -> int | None:
        """Unknown: Pub/Sub reports a subscription's backlog through Cloud Monitoring only."""
        return None

    async def close(self) -> None:
        """Close the channel; unacknowledged messages come back after their deadline."""
        subscriber, self._subscriber = self._subscriber, None
        if subscriber is not None:
            await anyio.to_thread.run_sync(subscriber.close)

    def _started(self) -> SubscriberClient:
        if self._subscriber is None:
            raise RuntimeError("PubSubSource.start() was not called")
        return self._subscriber


class PubSubPublisher:
    """Publishes to topics of one project (created on first use), in order per ordering key."""

    def __init__(self, url: str) -> None:
        self._project, self._emulator = parse_url(url)
        self._client: PublisherClient | None = None
        self._known_topics: set[str] = set()

    async def start(self) -> None:
        """Build the client (the connection is made by the first call)."""
        self._client = await anyio.to_thread.run_sync(_client_factory.publisher, self._emulator)

    async def publish(
        self,
        stream: str,
        value: bytes | None,
        *,
        key: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> str:
        """Publish one message and wait for Pub/Sub to store it; returns the message id."""
        if self._client is None:
            raise RuntimeError("PubSubPublisher.start() was not called")
        client, topic_path = self._client, f"projects/{self._project}/topics/{stream}"
        attributes = dict(headers or {})
        if not value:
            attributes[TOMBSTONE_ATTRIBUTE] = "1" if value is None else "0"
        ordering_key = key.decode() if key else ""

        def publish_and_wait() -> str:
            if topic_path not in self._known_topics:
                _ensure_topic(client, topic_path)
                self._known_topics.add(topic_path)
            try:
                future = client.publish(
                    topic_path, value or b"", ordering_key, timeout=REQUEST_TIMEOUT_S, **attributes
                )
                return str(future.result(timeout=2 * REQUEST_TIMEOUT_S))
            except BaseException:
                if ordering_key:
                    # a failed publish pauses its ordering key until resumed
                    client.resume_publish(topic_path, ordering_key)
                raise

        try:
            return await anyio.to_thread.run_sync(publish_and_wait)
        except _api_errors() as exc:
            raise StreamUnavailable(f"Pub/Sub publish to {topic_path}: {exc}") from exc

    async def close(self) -> None:
        """Stop the client (every publish has already been waited for)."""
        client, self._client = self._client, None
        if client is not None:
            await anyio.to_thread.run_sync(client.stop)
