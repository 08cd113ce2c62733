"""The outbox on SQLite: deliveries are enqueued in the transaction of the outcome, and the worker's
streams lane publishes them (service replies, results and dead letters included).

Publishing goes to ``RecordingPublisher``, an in-test double registered by monkeypatching
``providers.open_publisher``: it counts starts and can fail on demand, which a broker cannot do on cue.
Everything else is real (SQLite, the queue, the worker); ``test_stream_publish_redis.py`` publishes to
a real Redis.
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest
from sqlalchemy import select

from ragworks.config import EventSettings, JobSettings, Settings
from ragworks.domain import Job, JobKind, JobResults, JobStatus
from ragworks.engines.llm.base import LLMError
from ragworks.engines.queue.outbox import Delivery, Event
from ragworks.engines.queue.sql import SqlJobQueue
from ragworks.engines.queue.sql_events import SqlEventLog
from ragworks.engines.store.schema import jobs
from ragworks.engines.store.sql import SqlDatabase
from ragworks.engines.streams import providers
from ragworks.jobs.events import EVENT_ID_HEADER, EventRouter, outcome_body
from ragworks.jobs.stream_publish import StreamDeliveries, StreamPublishFailed, StreamPublishRefused
from ragworks.jobs.worker import Handler, JobContext, Lane, Worker
from ragworks.observability.metrics import Metrics
from ragworks.roles import parts
from ragworks.streams.dead_letters import PREFIX

pytestmark = pytest.mark.anyio

FAST = JobSettings(poll_interval_s=0.05, backoff_base_s=0.01, backoff_max_s=0.02, heartbeat_s=0.05, lease_s=5)
BROKER = "redis://broker.test:6379/0"
REPLY = {
    "url": BROKER,
    "results": "answers",
    "dead_letter": "requests.dead",
    "correlation_id": "corr-1",
    "source": {"stream": "requests", "position": "7-0", "headers": {"tenant": "acme"}},
    "message": '{"service": "answer"}',
}


@dataclass
class Published:
    stream: str
    value: bytes | None
    key: bytes | None
    headers: dict[str, str]


@dataclass
class RecordingPublisher:
    """Keeps what it is asked to publish; ``fail_next`` publishes raise as a broker that is down."""

    url: str
    sent: list[Published] = field(default_factory=list)
    starts: int = 0
    closed: bool = False
    fail_next: int = 0

    async def start(self) -> None:
        self.starts += 1

    async def publish(
        self,
        stream: str,
        value: bytes | None,
        *,
        key: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> str:
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("broker down")
        self.sent.append(Published(stream, value, key, dict(headers or {})))
        return f"{len(self.sent)}-0"

    async def close(self) -> None:
        self.closed = True


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[RecordingPublisher]:
    """Every publisher ``open_publisher`` makes, in order."""
    made: list[RecordingPublisher] = []

    def open_publisher(url: str) -> RecordingPublisher:
        made.append(RecordingPublisher(url))
        return made[-1]

    monkeypatch.setattr(providers, "open_publisher", open_publisher)
    return made


def routed_queue(db: SqlDatabase, **settings: Any) -> SqlJobQueue:
    return SqlJobQueue(db, EventRouter(EventSettings(**settings), max_attempts=3))


def deliveries(db: SqlDatabase, kind: str) -> list[dict[str, Any]]:
    with db.reader.connect() as conn:
        rows = conn.execute(select(jobs.c.payload).where(jobs.c.kind == kind).order_by(jobs.c.created_at))
        return [dict(r.payload) for r in rows]


def test_a_completed_ingest_job_has_its_event_and_callback_in_the_same_commit(db: SqlDatabase) -> None:
    queue = routed_queue(db)
    woken = threading.Event()
    queue.on_wake_up(woken.set)
    job_id = queue.enqueue(
        JobKind.INGEST, {"version": 1}, collection="c", document_id="d", callback_url="http://hook"
    )
    woken.clear()
    [job] = queue.lease("w1", [JobKind.INGEST], 1, 60)

    queue.complete_many("w1", {job.id: {"document_id": "d", "version": 1, "chunks": 1}})

    kinds = [e.kind for e in SqlEventLog(db).list_events(after=0)]
    assert kinds == ["job.succeeded", "document.indexed"]
    [callback] = deliveries(db, JobKind.CALLBACK)
    assert json.loads(callback["body"]) == outcome_body(queue.get(job_id))
    assert woken.is_set()  # the callbacks lane hears of it at once


def test_a_router_that_fails_rolls_the_outcome_back(db: SqlDatabase) -> None:
    class Broken:
        def deliveries(self, _job: Job, _job_events: Sequence[Event]) -> list[Delivery]:
            raise RuntimeError("routing failed")

    queue = SqlJobQueue(db, Broken())
    queue.enqueue(JobKind.INGEST, {"version": 1}, collection="c", document_id="d")
    [job] = queue.lease("w1", [JobKind.INGEST], 1, 60)

    with pytest.raises(RuntimeError):
        queue.complete_many("w1", {job.id: {}})

    assert queue.get(job.id).status == JobStatus.RUNNING  # neither the outcome nor its events
    assert SqlEventLog(db).list_events() == []


def test_a_lost_lease_enqueues_no_delivery(db: SqlDatabase) -> None:
    queue = routed_queue(db, stream_url=BROKER)
    queue.enqueue("test.work", {}, callback_url="http://hook")
    [lost] = queue.lease("w1", ["test.work"], 1, -60)
    queue.lease("w2", ["test.work"], 1, 60)

    queue.complete_many("w1", {lost.id: {}})
    queue.fail("w1", lost, "E", "late", None)

    assert deliveries(db, JobKind.CALLBACK) == deliveries(db, JobKind.STREAM_PUBLISH) == []


@asynccontextmanager
async def worker_of(queue: SqlJobQueue, handlers: dict[str, Handler]) -> AsyncIterator[StreamDeliveries]:
    """A started worker with a services lane, the streams lane and the publish handler."""
    streams = StreamDeliveries()
    worker = Worker(
        queue,
        queue,
        {**handlers, **streams.handlers()},
        [Lane("services", (JobKind.SERVICE_RUN,)), Lane("streams", (JobKind.STREAM_PUBLISH,), batch=32)],
        FAST,
        Metrics(),
        on_stop=[streams.close],
    )
    await worker.start(reclaim_all=False)
    try:
        yield streams
    finally:
        await worker.stop()


async def until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Wait until ``condition()`` holds; fails the test after ``timeout_s``."""
    with anyio.fail_after(timeout_s):
        while True:
            if condition():
                return
            await anyio.sleep(0.01)


def answering(outcome: dict[str, object] | Exception) -> Handler:
    async def handle(batch: list[Job], _ctx: JobContext) -> JobResults:
        return {job.id: outcome for job in batch}

    return handle


async def test_a_dead_service_request_publishes_its_error_result_and_a_dead_letter(
    db: SqlDatabase, opened: list[RecordingPublisher]
) -> None:
    queue = routed_queue(db)
    payload = {"service": "answer", "input": {}, "reply": REPLY}
    job_id = queue.enqueue(JobKind.SERVICE_RUN, payload, max_attempts=1)
    handlers = {JobKind.SERVICE_RUN.value: answering(LLMError("the LLM server is unreachable"))}

    async with worker_of(queue, handlers):
        await until(lambda: bool(opened) and len(opened[0].sent) == 2)

    [publisher] = opened
    result, letter = publisher.sent
    body = json.loads(result.value or b"")
    assert (result.stream, result.key, body["status_code"], body["job_id"]) == (
        "answers",
        b"corr-1",
        502,
        job_id,
    )
    assert body["error"] == {"code": "llm_error", "message": "the LLM server is unreachable"}
    assert (letter.stream, letter.value) == ("requests.dead", b'{"service": "answer"}')
    assert letter.headers[PREFIX + "class"] == "LLMError"
    assert letter.headers[PREFIX + "status_code"] == "502"
    assert letter.headers[PREFIX + "source.position"] == "7-0"
    assert letter.headers["tenant"] == "acme"
    assert letter.headers[EVENT_ID_HEADER] == result.headers[EVENT_ID_HEADER]
    assert publisher.closed  # at worker stop


async def test_a_succeeded_service_request_publishes_its_result_with_200(
    db: SqlDatabase, opened: list[RecordingPublisher]
) -> None:
    queue = routed_queue(db)
    queue.enqueue(JobKind.SERVICE_RUN, {"service": "answer", "input": {}, "reply": REPLY})

    async with worker_of(queue, {JobKind.SERVICE_RUN.value: answering({"answer": "42"})}):
        await until(lambda: bool(opened) and len(opened[0].sent) == 1)

    body = json.loads(opened[0].sent[0].value or b"")
    assert (body["status"], body["status_code"], body["result"]) == ("succeeded", 200, {"answer": "42"})


async def test_events_reach_the_stream_through_one_publisher_per_url(
    db: SqlDatabase, opened: list[RecordingPublisher]
) -> None:
    queue = routed_queue(db, stream_url=BROKER, stream="events", stream_kinds=["job.*"])
    for _ in range(3):
        queue.enqueue(JobKind.SERVICE_RUN, {"service": "echo", "input": {}})

    async with worker_of(queue, {JobKind.SERVICE_RUN.value: answering({})}):
        await until(lambda: bool(opened) and len(opened[0].sent) == 3)

    [publisher] = opened
    assert publisher.starts == 1
    ids = [int(m.headers[EVENT_ID_HEADER]) for m in publisher.sent]
    assert [json.loads(m.value or b"")["event_id"] for m in publisher.sent] == ids
    assert {m.stream for m in publisher.sent} == {"events"}


def publish_job(url: str = BROKER) -> Job:
    payload = {"url": url, "stream": "s", "value": "v", "key": None, "headers": {"h": "1"}, "for_job": "j"}
    return Job(id="p1", kind=JobKind.STREAM_PUBLISH, status=JobStatus.RUNNING, payload=payload)


async def test_a_failed_publish_is_retried_on_a_fresh_publisher(
    queue: SqlJobQueue, opened: list[RecordingPublisher]
) -> None:
    streams, context = StreamDeliveries(), JobContext(queue, "w")
    await streams.publish([publish_job()], context)
    opened[0].fail_next = 1

    [failed] = (await streams.publish([publish_job()], context)).values()
    [again] = (await streams.publish([publish_job()], context)).values()

    assert isinstance(failed, StreamPublishFailed)
    assert again == {"stream": "s", "position": "1-0", "for_job": "j"}
    assert (opened[0].closed, len(opened)) == (True, 2)


async def test_a_stream_url_that_cannot_be_published_to_is_refused_for_good(queue: SqlJobQueue) -> None:
    context = JobContext(queue, "w")
    [unknown] = (await StreamDeliveries().publish([publish_job("nowhere://x")], context)).values()
    [feed] = (await StreamDeliveries().publish([publish_job("postgresql://db")], context)).values()

    assert isinstance(unknown, StreamPublishRefused) and isinstance(feed, StreamPublishRefused)
    assert unknown.status_code == 400


async def test_the_purge_deletes_every_event_past_retention_in_batches(
    db: SqlDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = routed_queue(db)
    for _ in range(5):
        queue.enqueue("test.work", {})
        [job] = queue.lease("w1", ["test.work"], 1, 60)
        queue.complete("w1", job.id, {})
    monkeypatch.setattr(parts, "EVENT_PURGE_BATCH", 2)  # 5 events: three batches
    log = SqlEventLog(db)

    await parts.purge_events(log, Settings(events=EventSettings(retention_s=1e-9)))

    assert log.list_events() == []
