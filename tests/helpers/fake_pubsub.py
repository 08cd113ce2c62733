"""An in-memory Pub/Sub behind the publisher and subscriber client methods the Pub/Sub adapter calls.

It stands in because neither Pub/Sub nor its emulator can run on this machine (no package registry we
can reach ships the emulator). The same contract suite runs against the emulator when
``PUBSUB_EMULATOR_HOST`` (``host:port``) is set (tests/engines/streams/test_pubsub.py).

Where the contract looks it behaves as Pub/Sub does: a topic copies each message to each of its
subscriptions; a pulled message is leased for the subscription's ack deadline (10 to 600 s, as the
service enforces) or what ``modify_ack_deadline`` set, and comes back to whichever client pulls once
the lease ends unacknowledged; an acknowledged one never comes back; a pull with nothing to deliver
waits until its timeout and raises ``DeadlineExceeded``; a message with neither data nor attributes is
refused; creating what exists raises ``AlreadyExists``. Messages and responses are the library's types.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from google.api_core.exceptions import AlreadyExists, DeadlineExceeded, InvalidArgument, NotFound
from google.pubsub_v1.types import PubsubMessage, PullResponse, ReceivedMessage


@dataclass
class _Entry:
    message: PubsubMessage
    leased_until: float | None = None
    acked: bool = False
    ack_ids: set[str] = field(default_factory=set)


@dataclass
class _Subscription:
    topic: str
    ack_deadline_s: int
    entries: list[_Entry] = field(default_factory=list)


class FakePubSub:
    """Topics and subscriptions of one pretend project; ``publisher``/``subscriber`` build clients as
    ``ragworks.engines.streams.pubsub.GoogleClients`` does."""

    def __init__(self) -> None:
        self.topics: set[str] = set()
        self.subscriptions: dict[str, _Subscription] = {}
        self.changed = threading.Condition()
        self._ids = itertools.count(1)

    def publisher(self, emulator: str | None) -> FakePublisherClient:  # noqa: ARG002 - no emulator here
        return FakePublisherClient(self)

    def subscriber(self, emulator: str | None) -> FakeSubscriberClient:  # noqa: ARG002 - no emulator here
        return FakeSubscriberClient(self)

    def next_id(self) -> str:
        return str(next(self._ids))


class FakePublisherClient:
    """The ``PublisherClient`` methods the adapter calls (message ordering enabled)."""

    def __init__(self, pubsub: FakePubSub) -> None:
        self.pubsub = pubsub
        self.stopped = False

    def create_topic(self, *, request: Mapping[str, Any], **_call: Any) -> None:
        with self.pubsub.changed:
            if request["name"] in self.pubsub.topics:
                raise AlreadyExists(f"Topic already exists: {request['name']}")
            self.pubsub.topics.add(request["name"])

    def publish(
        self, topic: str, data: bytes, ordering_key: str = "", *, timeout: float, **attrs: str
    ) -> Future[str]:
        del timeout  # nothing here takes time
        if self.stopped:
            raise RuntimeError("Cannot publish on a stopped publisher.")
        if not isinstance(data, bytes) or not all(isinstance(v, str) for v in attrs.values()):
            raise TypeError("data must be bytes and attributes text")
        future: Future[str] = Future()
        with self.pubsub.changed:
            if topic not in self.pubsub.topics:
                future.set_exception(NotFound(f"Topic not found: {topic}"))
                return future
            if not data and not attrs:
                future.set_exception(InvalidArgument("A message must have data or attributes"))
                return future
            message_id = self.pubsub.next_id()
            message = PubsubMessage(
                data=data, attributes=attrs, message_id=message_id, ordering_key=ordering_key
            )
            for subscription in self.pubsub.subscriptions.values():
                if subscription.topic == topic:
                    subscription.entries.append(_Entry(PubsubMessage(message)))
            self.pubsub.changed.notify_all()
        future.set_result(message_id)
        return future

    def resume_publish(self, topic: str, ordering_key: str) -> None:  # noqa: ARG002 - never paused here
        return None

    def stop(self) -> None:
        self.stopped = True


class FakeSubscriberClient:
    """The ``SubscriberClient`` methods the adapter calls."""

    def __init__(self, pubsub: FakePubSub) -> None:
        self.pubsub = pubsub

    def create_subscription(self, *, request: Mapping[str, Any], **_call: Any) -> None:
        deadline = int(request.get("ack_deadline_seconds", 10))
        if not 10 <= deadline <= 600:
            raise InvalidArgument("ack_deadline_seconds must be between 10 and 600")
        with self.pubsub.changed:
            if request["topic"] not in self.pubsub.topics:
                raise NotFound(f"Topic not found: {request['topic']}")
            if request["name"] in self.pubsub.subscriptions:
                raise AlreadyExists(f"Subscription already exists: {request['name']}")
            self.pubsub.subscriptions[request["name"]] = _Subscription(request["topic"], deadline)

    def pull(self, *, request: Mapping[str, Any], timeout: float, retry: Any) -> PullResponse:  # noqa: ARG002
        subscription = self._subscription(request["subscription"])
        give_up = time.monotonic() + timeout
        with self.pubsub.changed:
            while True:
                now = time.monotonic()
                available = [e for e in subscription.entries if not e.acked and (e.leased_until or 0) <= now]
                if available:
                    return self._lease(subscription, available[: int(request["max_messages"])], now)
                if now >= give_up:
                    raise DeadlineExceeded("Deadline Exceeded")
                # leases end without a notification: look again soon
                self.pubsub.changed.wait(min(0.05, give_up - now))

    def _lease(self, subscription: _Subscription, entries: list[_Entry], now: float) -> PullResponse:
        received = []
        for entry in entries:
            ack_id = f"ack-{self.pubsub.next_id()}"
            entry.ack_ids.add(ack_id)
            entry.leased_until = now + subscription.ack_deadline_s
            received.append(ReceivedMessage(ack_id=ack_id, message=entry.message, delivery_attempt=0))
        return PullResponse(received_messages=received)

    def acknowledge(self, *, request: Mapping[str, Any], **_call: Any) -> None:
        ack_ids = set(request["ack_ids"])
        with self.pubsub.changed:
            for entry in self._subscription(request["subscription"]).entries:
                if entry.ack_ids & ack_ids:
                    entry.acked = True

    def modify_ack_deadline(self, *, request: Mapping[str, Any], **_call: Any) -> None:
        seconds = int(request["ack_deadline_seconds"])
        if not 0 <= seconds <= 600:
            raise InvalidArgument("ack_deadline_seconds must be between 0 and 600")
        ack_ids = set(request["ack_ids"])
        with self.pubsub.changed:
            for entry in self._subscription(request["subscription"]).entries:
                if entry.ack_ids & ack_ids and not entry.acked:
                    entry.leased_until = time.monotonic() + seconds
            self.pubsub.changed.notify_all()

    def close(self) -> None:
        return None

    def _subscription(self, name: str) -> _Subscription:
        with self.pubsub.changed:
            if name not in self.pubsub.subscriptions:
                raise NotFound(f"Subscription does not exist: {name}")
            return self.pubsub.subscriptions[name]
