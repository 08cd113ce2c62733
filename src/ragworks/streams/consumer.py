"""One stream source, consumed: fetch a batch, do what each message asks, acknowledge the batch.

A batch is acknowledged only once every message in it is durably handled: its document accepted (a
row and a job in one transaction), its delete recorded, its service call enqueued, or the message
published to the dead-letter stream. A broker or store error leaves the batch unacknowledged; the same
messages come back (to this consumer after a restart, or to another one), and handling them again is
harmless: the same id and content are ``unchanged``, a delete of a deleted document is nothing, and a
service request's job id is derived from the message's position, so it is enqueued once.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio

from ragworks.engines.streams.base import StreamMessage, StreamPublisher, StreamSource, StreamUnavailable
from ragworks.errors import NotFound, RagworksError
from ragworks.streams.config import ConsumerSection, SourceSection
from ragworks.streams.dead_letters import FailureContext, Stage, result_body
from ragworks.streams.intake import Intake
from ragworks.streams.mapping import Delete, ServiceRequest, Unmappable, Upsert, map_message
from ragworks.streams.metrics import StreamMetrics

log = logging.getLogger(__name__)

_MAX_BACKOFF_S = 30.0
_DEPTH_CHECK_S = 1.0
_LAG_CHECK_S = 5.0


@dataclass
class SourceConsumer:
    """Consumes one source until ``stop()``."""

    config: SourceSection
    consumer: ConsumerSection
    source: StreamSource
    publisher: StreamPublisher | None
    intake: Intake
    metrics: StreamMetrics
    _stopping: anyio.Event = field(default_factory=anyio.Event)
    _depth_checked_at: float = 0.0
    _over_limit: bool = False
    _lag_checked_at: float = float("-inf")

    @property
    def name(self) -> str:
        """The source's label in logs and metrics."""
        return self.config.name

    def stop(self) -> None:
        """Finish the batch in hand, then return from ``run``."""
        self._stopping.set()

    async def run(self) -> None:
        """Connect (retrying while the broker is down), create collections, then consume."""
        await self._with_retries(self.open)
        delay = self.consumer.retry_delay_s
        while not self._stopping.is_set():
            try:
                if await self._paused():
                    await self._sleep(min(self.consumer.wait_s, 1.0))
                    continue
                await self.step()
                delay = self.consumer.retry_delay_s
            except (StreamUnavailable, RagworksError) as exc:
                # the batch stays unacknowledged: its messages are fetched again
                self.metrics.retries.labels(self.name).inc()
                log.warning("stream %s: %s; retrying in %.1f s", self.name, exc, delay)
                await self._sleep(delay)
                delay = min(delay * 2, _MAX_BACKOFF_S)
        await self.close()

    async def step(self) -> int:
        """Fetch, handle and acknowledge one batch; returns its size."""
        messages = await self.source.fetch(self.consumer.batch, self.consumer.wait_s)
        await self._update_lag()
        if not messages:
            return 0
        redelivered = sum(1 for m in messages if m.deliveries > 1)
        if redelivered:
            self.metrics.redelivered.labels(self.name).inc(redelivered)
        await self.handle(messages)
        await self.source.ack(messages)
        return len(messages)

    async def handle(self, messages: Sequence[StreamMessage]) -> None:
        """Do what each message asks, in order; a message that cannot be handled is dead-lettered."""
        batch = _UpsertBatch()
        for message in messages:
            try:
                action = map_message(message, self.config)
            except Unmappable as exc:
                await self.dead_letter(message, exc.stage, "Unmappable", str(exc), exc.status_code)
                continue
            if isinstance(action, Upsert):
                if not batch.add(message, action):
                    await self._accept(batch.take())
                    batch.add(message, action)
                continue
            await self._accept(batch.take())  # keep the order of upserts and deletes of one id
            if isinstance(action, Delete):
                await self._delete(action)
            else:
                await self._request(message, action)
        await self._accept(batch.take())

    async def dead_letter(
        self, message: StreamMessage, stage: str, error_class: str, error: str, status_code: int
    ) -> None:
        """Publish the message to the dead-letter stream with its failure's context headers."""
        self.metrics.failures.labels(self.name, stage).inc()
        self.metrics.count(self.name, "dead_lettered")
        context = FailureContext(
            source_stream=message.stream,
            position=message.position,
            stage=stage,
            error_class=error_class,
            error_message=error,
            attempts=message.deliveries,
            status_code=status_code,
        )
        log.warning(
            "stream %s: message %s dead-lettered at %s: %s", self.name, message.position, stage, error
        )
        if self.publisher is None or not self.config.dead_letter:
            return
        headers = context.headers(message.headers)
        await self.publisher.publish(self.config.dead_letter, message.value, key=message.key, headers=headers)

    async def _accept(self, items: list[tuple[StreamMessage, Upsert]]) -> None:
        by_collection: dict[str, list[tuple[StreamMessage, Upsert]]] = {}
        for message, upsert in items:
            by_collection.setdefault(upsert.collection, []).append((message, upsert))
        for collection, group in by_collection.items():
            try:
                acceptances = await self.intake.documents.accept_texts(
                    collection, [u.document for _, u in group]
                )
            except RagworksError as exc:
                if exc.status_code >= 500 or len(group) == 1:
                    if exc.status_code >= 500:
                        raise
                    await self.dead_letter(
                        group[0][0], Stage.ACCEPT, type(exc).__name__, str(exc), exc.status_code
                    )
                    continue
                for message, upsert in group:  # find the bad ones; the others are accepted
                    await self._accept([(message, upsert)])
                continue
            for acceptance in acceptances:
                self.metrics.count(self.name, acceptance.outcome)

    async def _delete(self, action: Delete) -> None:
        try:
            await self.intake.documents.delete(action.collection, action.document_id)
        except NotFound:
            self.metrics.count(self.name, "unchanged")  # deleted before (a re-delivery), or never there
            return
        self.metrics.count(self.name, "deleted")

    async def _request(self, message: StreamMessage, request: ServiceRequest) -> None:
        try:
            data = self.intake.check_service(request.service, request.input)
        except RagworksError as exc:
            await self._refuse(message, request, exc)
            return
        reply = {
            "url": self.config.url,
            "results": self.config.results,
            "dead_letter": self.config.dead_letter,
            "correlation_id": request.correlation_id,
            "key": message.key.decode("utf-8", "replace") if message.key is not None else None,
            "source": {
                "stream": message.stream,
                "position": message.position,
                "headers": dict(message.headers),
            },
            "message": (message.value or b"").decode("utf-8"),
        }
        job_id = _job_id(self.config, message)
        await self.intake.request_service(job_id, request.service, data, reply)
        self.metrics.count(self.name, "requested")

    async def _refuse(self, message: StreamMessage, request: ServiceRequest, exc: RagworksError) -> None:
        """An unknown service or an input it refuses: the requester gets the error as its result."""
        if self.publisher is not None and self.config.results:
            body = result_body(
                request.correlation_id,
                service=request.service,
                status_code=exc.status_code,
                error={"code": exc.code, "message": str(exc)},
            )
            await self.publisher.publish(self.config.results, body, key=message.key)
        await self.dead_letter(message, Stage.SERVICE, type(exc).__name__, str(exc), exc.status_code)

    async def _paused(self) -> bool:
        now = time.monotonic()
        if now - self._depth_checked_at >= _DEPTH_CHECK_S:
            self._depth_checked_at = now
            self._over_limit = await self.intake.waiting_ingest_jobs() > self.consumer.max_queue_depth
            self.metrics.paused.labels(self.name).set(1 if self._over_limit else 0)
        return self._over_limit

    async def _update_lag(self) -> None:
        now = time.monotonic()
        if now - self._lag_checked_at < _LAG_CHECK_S:
            return
        self._lag_checked_at = now
        lag = await self.source.lag()
        if lag is not None:
            self.metrics.lag.labels(self.name).set(lag)

    async def open(self) -> None:
        """Connect the source and the publisher; create the collection where asked."""
        await self.source.start()
        if self.publisher is not None:
            await self.publisher.start()
        if self.config.kind == "documents" and self.config.collection and self.config.create_collection:
            await self.intake.ensure_collection(self.config.collection, self.config.tenant)
        log.info("stream %s: consuming %s as %s", self.name, self.config.stream, self.consumer.name)

    async def _with_retries(self, action: Any) -> None:
        delay = self.consumer.retry_delay_s
        while True:
            try:
                await action()
                return
            except (StreamUnavailable, RagworksError) as exc:
                if self._stopping.is_set():
                    raise
                log.warning("stream %s: cannot start: %s; retrying in %.1f s", self.name, exc, delay)
                await self._sleep(delay)
                delay = min(delay * 2, _MAX_BACKOFF_S)

    async def _sleep(self, seconds: float) -> None:
        with anyio.move_on_after(seconds):
            await self._stopping.wait()

    async def close(self) -> None:
        """Disconnect; unacknowledged messages stay pending for redelivery."""
        await self.source.close()
        if self.publisher is not None:
            await self.publisher.close()


@dataclass
class _UpsertBatch:
    """Upserts accepted together; a second message for an id already in it starts a new batch, so the
    later version wins."""

    items: list[tuple[StreamMessage, Upsert]] = field(default_factory=list)
    ids: set[tuple[str, str | None]] = field(default_factory=set)

    def add(self, message: StreamMessage, upsert: Upsert) -> bool:
        key = (upsert.collection, upsert.document.id)
        if key in self.ids:
            return False
        self.ids.add(key)
        self.items.append((message, upsert))
        return True

    def take(self) -> list[tuple[StreamMessage, Upsert]]:
        items, self.items, self.ids = self.items, [], set()
        return items


def _job_id(source: SourceSection, message: StreamMessage) -> str:
    """The same message, delivered again, names the same job (so it is enqueued once)."""
    identity = "\x1f".join((source.url, message.stream, source.group, message.position))
    return hashlib.sha256(identity.encode()).hexdigest()[:32]
