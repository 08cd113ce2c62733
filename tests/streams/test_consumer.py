"""A source consumed into a real store, from a real Redis server: documents, deletes, poison messages,
service requests, re-deliveries and back-pressure."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ragworks.domain import JobKind
from ragworks.engines.streams.base import StreamMessage, StreamPublisher
from ragworks.engines.streams.providers import open_publisher, open_source
from ragworks.roles.consumer import build_intake
from ragworks.roles.parts import Core
from ragworks.services.registry import load_registry
from ragworks.streams.config import ConsumerSection, SourceSection
from ragworks.streams.consumer import SourceConsumer
from ragworks.streams.metrics import StreamMetrics
from ragworks.streams.runner import build_source_consumer

pytestmark = pytest.mark.anyio


@pytest.fixture
async def publisher(redis_url: str) -> AsyncIterator[StreamPublisher]:
    pub = open_publisher(redis_url)
    await pub.start()
    try:
        yield pub
    finally:
        await pub.close()


def _consumer(core: Core, source: SourceSection, **consumer: Any) -> SourceConsumer:
    intake = build_intake(core, load_registry(core.settings.services))
    settings = ConsumerSection(name="c1", wait_s=0.2, **consumer)
    return build_source_consumer(source, settings, intake, StreamMetrics())


def _documents(redis_url: str, **extra: Any) -> SourceSection:
    name = uuid.uuid4().hex[:8]
    return SourceSection(
        url=redis_url, stream=f"docs-{name}", collection="news", dead_letter=f"dlq-{name}", **extra
    )


async def _publish(pub: StreamPublisher, stream: str, *bodies: Any, key: str | None = None) -> None:
    for body in bodies:
        value = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        await pub.publish(stream, value, key=key.encode() if key else None, headers={"trace": "t-1"})


async def _drain(consumer: SourceConsumer) -> int:
    """Fetch, handle and acknowledge until a fetch comes back empty; returns the messages handled."""
    handled = 0
    while n := await consumer.step():
        handled += n
    return handled


async def _read_all(redis_url: str, stream: str) -> list[StreamMessage]:
    reader = open_source(redis_url, stream, _options("reader"))
    await reader.start()
    try:
        return await reader.fetch(1000, 0.2)
    finally:
        await reader.close()


def _options(group: str) -> Any:
    from ragworks.engines.streams.base import SourceOptions

    return SourceOptions(group=group, consumer="reader")


def _sample(consumer: SourceConsumer, name: str, labels: dict[str, str]) -> float:
    value = consumer.metrics.registry.get_sample_value(name, labels)
    return value or 0.0


async def test_messages_become_documents_and_poison_goes_to_the_dead_letter_stream(
    core: Core, redis_url: str, publisher: StreamPublisher
) -> None:
    source = _documents(redis_url)
    consumer = _consumer(core, source)
    await consumer.open()
    await _publish(
        publisher,
        source.stream,
        {"id": "a1", "title": "One", "text": "the first article", "author": "kim"},
        b"{broken json",
        {"id": "a2", "text": {"not": "a string"}},
        {"id": "a3", "text": "the third article"},
        {"id": "bad\x00id", "text": "an id the store refuses"},
        {"id": "blank", "text": "  \n "},
    )
    assert await _drain(consumer) == 6

    store = core.stores.store
    assert store.get_document("news", "a1").metadata == {"author": "kim"}
    assert store.get_document("news", "a3").title is None
    letters = await _read_all(redis_url, source.dead_letter or "")
    assert [m.headers["ragworks.errors.stage"] for m in letters] == ["decode", "map", "accept", "accept"]
    assert letters[0].value == b"{broken json"  # the original body, for a replay
    first = letters[0].headers
    assert first["trace"] == "t-1" and first["ragworks.errors.source.stream"] == source.stream
    assert first["ragworks.errors.source.position"] and first["ragworks.errors.class"] == "Unmappable"
    assert "not JSON" in first["ragworks.errors.message"] and first["ragworks.errors.attempts"] == "1"
    assert letters[2].headers["ragworks.errors.status_code"] == "400"
    assert "empty" in letters[3].headers["ragworks.errors.message"].lower()
    assert (
        _sample(consumer, "ragworks_stream_messages_total", {"source": source.name, "outcome": "created"})
        == 2
    )
    assert (
        _sample(
            consumer, "ragworks_stream_messages_total", {"source": source.name, "outcome": "dead_lettered"}
        )
        == 4
    )
    await consumer.close()


async def test_a_redelivered_batch_changes_nothing(
    core: Core, redis_url: str, publisher: StreamPublisher
) -> None:
    source = _documents(redis_url)
    first = _consumer(core, source)
    await first.open()
    await _publish(publisher, source.stream, *({"id": f"d{n}", "text": f"text {n}"} for n in range(20)))
    messages = await first.source.fetch(100, 0.2)
    await first.handle(messages)  # accepted, then "killed" before acknowledging
    await first.close()

    again = _consumer(core, source)  # the same consumer name after a restart
    await again.open()
    assert await _drain(again) == 20
    assert (
        _sample(again, "ragworks_stream_messages_total", {"source": source.name, "outcome": "unchanged"})
        == 20
    )
    assert _sample(again, "ragworks_stream_redelivered_total", {"source": source.name}) == 20
    jobs = core.stores.jobs.counts()
    assert sum(n for (kind, _), n in jobs.items() if kind == JobKind.INGEST) == 20
    assert {core.stores.store.get_document("news", f"d{n}").version for n in range(20)} == {1}
    await again.close()


async def test_updates_and_deletes_keep_their_order(
    core: Core, redis_url: str, publisher: StreamPublisher
) -> None:
    source = _documents(redis_url)
    consumer = _consumer(core, source)
    await consumer.open()
    await _publish(
        publisher,
        source.stream,
        {"id": "x", "text": "v1"},
        {"id": "x", "text": "v2"},
        {"id": "y", "text": "y"},
    )
    await _publish(publisher, source.stream, {"id": "y", "op": "delete"})
    await _publish(publisher, source.stream, None, key="x")  # a tombstone
    await _publish(publisher, source.stream, None, key="never-there")
    assert await _drain(consumer) == 6
    store = core.stores.store
    assert store.get_document("news", "x").status == "deleted"
    assert store.get_document("news", "y").status == "deleted"
    assert (
        _sample(consumer, "ragworks_stream_messages_total", {"source": source.name, "outcome": "updated"})
        == 1
    )
    assert (
        _sample(consumer, "ragworks_stream_messages_total", {"source": source.name, "outcome": "deleted"})
        == 2
    )
    await consumer.close()


async def test_a_service_request_is_enqueued_once_with_its_reply(
    core: Core, redis_url: str, publisher: StreamPublisher
) -> None:
    name = uuid.uuid4().hex[:8]
    source = SourceSection(
        url=redis_url, stream=f"req-{name}", kind="services", results=f"res-{name}", dead_letter=f"dlq-{name}"
    )
    consumer = _consumer(core, source)
    await consumer.open()
    request = {"service": "summarize", "input": {"text": "A long text."}, "correlation_id": "c-1"}
    await _publish(publisher, source.stream, request, {"service": "no_such_service", "correlation_id": "c-2"})
    messages = await consumer.source.fetch(10, 0.2)
    await consumer.handle(messages)
    await consumer.handle(messages[:1])  # delivered again before the acknowledgement
    await consumer.source.ack(messages)

    (job,) = core.stores.jobs.list(kind=JobKind.SERVICE_RUN)
    reply = job.payload["reply"]
    assert job.payload["service"] == "summarize" and reply["correlation_id"] == "c-1"
    assert reply["results"] == source.results and reply["source"]["stream"] == source.stream
    assert json.loads(reply["message"]) == request
    (refusal,) = await _read_all(redis_url, source.results or "")
    body = json.loads(refusal.value or b"")
    assert (body["correlation_id"], body["status"], body["status_code"]) == ("c-2", "failed", 404)
    (letter,) = await _read_all(redis_url, source.dead_letter or "")
    assert letter.headers["ragworks.errors.stage"] == "service"
    await consumer.close()


async def test_consumption_pauses_while_the_ingest_queue_is_too_deep(
    core: Core, redis_url: str, publisher: StreamPublisher
) -> None:
    source = _documents(redis_url)
    consumer = _consumer(core, source, max_queue_depth=2)
    await consumer.open()
    await _publish(publisher, source.stream, *({"id": f"p{n}", "text": f"t {n}"} for n in range(3)))
    await _drain(consumer)
    assert await consumer._paused()  # three jobs wait, more than two
    assert _sample(consumer, "ragworks_stream_paused", {"source": source.name}) == 1
    for job in core.stores.queue.lease("test", [JobKind.INGEST], 10, 30):
        core.stores.queue.complete("test", job.id, {})
    consumer._depth_checked_at = 0.0
    assert not await consumer._paused()
    await consumer.close()
