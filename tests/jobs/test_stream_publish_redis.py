"""Events and service replies published to a real Redis (the streams lane of a real worker, the
Redis Streams adapter) and read back through the stream port."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import pytest

from helpers.redis import redis_server
from ragworks.config import EventSettings, JobSettings
from ragworks.domain import Job, JobKind, JobResults
from ragworks.engines.llm.base import LLMError
from ragworks.engines.queue.sql import SqlJobQueue
from ragworks.engines.store.sql import SqlDatabase
from ragworks.engines.streams.base import SourceOptions, StreamMessage
from ragworks.engines.streams.providers import open_source
from ragworks.jobs.events import EVENT_ID_HEADER, EventRouter
from ragworks.jobs.stream_publish import StreamDeliveries
from ragworks.jobs.worker import Handler, JobContext, Lane, Worker
from ragworks.observability.metrics import Metrics
from ragworks.streams.dead_letters import PREFIX

pytestmark = pytest.mark.anyio

FAST = JobSettings(poll_interval_s=0.05, backoff_base_s=0.01, backoff_max_s=0.02, heartbeat_s=0.05, lease_s=5)


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    with redis_server(tmp_path) as url:
        yield url


def answering(outcome: Callable[[Job], dict[str, object] | Exception]) -> Handler:
    async def handle(batch: list[Job], _ctx: JobContext) -> JobResults:
        return {job.id: outcome(job) for job in batch}

    return handle


async def run_until_published(queue: SqlJobQueue, url: str, stream: str, count: int) -> list[StreamMessage]:
    """Run a worker (services and streams lanes) until ``count`` messages are in ``stream``."""
    streams = StreamDeliveries()
    fail_on_request = answering(lambda job: LLMError("down") if job.payload.get("fail") else {"ok": True})
    worker = Worker(
        queue,
        queue,
        {JobKind.SERVICE_RUN.value: fail_on_request, **streams.handlers()},
        [Lane("services", (JobKind.SERVICE_RUN,)), Lane("streams", (JobKind.STREAM_PUBLISH,), batch=32)],
        FAST,
        Metrics(),
        on_stop=[streams.close],
    )
    source = open_source(url, stream, SourceOptions(group="test", consumer="reader"))
    await worker.start(reclaim_all=False)
    await source.start()
    received: list[StreamMessage] = []
    try:
        with anyio.fail_after(15):
            while len(received) < count:
                received += await source.fetch(count, wait_s=0.2)
    finally:
        await source.close()
        await worker.stop()
    return received


async def test_events_reach_a_redis_stream_with_their_event_id(db: SqlDatabase, redis_url: str) -> None:
    router = EventRouter(EventSettings(stream_url=redis_url, stream="events", stream_kinds=["job.*"]), 3)
    queue = SqlJobQueue(db, router)
    job_id = queue.enqueue(JobKind.SERVICE_RUN, {"service": "echo", "input": {}})

    [message] = await run_until_published(queue, redis_url, "events", 1)

    event = json.loads(message.value or b"")
    assert (event["kind"], event["job_id"]) == ("job.succeeded", job_id)
    assert message.headers[EVENT_ID_HEADER] == str(event["event_id"])
    assert message.key == job_id.encode()


async def test_a_dead_stream_request_gets_an_error_result_and_a_dead_letter_in_redis(
    db: SqlDatabase, redis_url: str
) -> None:
    queue = SqlJobQueue(db, EventRouter(EventSettings(), 3))
    reply = {
        "url": redis_url,
        "results": "answers",
        "dead_letter": "answers",  # one stream, so one reader sees both in order
        "correlation_id": "c-9",
        "source": {"stream": "requests", "position": "1-0", "headers": {"tenant": "t"}},
        "message": '{"service": "answer"}',
    }
    queue.enqueue(JobKind.SERVICE_RUN, {"service": "answer", "fail": True, "reply": reply}, max_attempts=1)

    result, letter = await run_until_published(queue, redis_url, "answers", 2)

    body = json.loads(result.value or b"")
    assert (body["correlation_id"], body["status_code"], body["error"]["code"]) == ("c-9", 502, "llm_error")
    assert letter.value == b'{"service": "answer"}'
    assert letter.headers[PREFIX + "status_code"] == "502"
    assert letter.headers[PREFIX + "stage"] == "service"
    assert letter.headers["tenant"] == "t"
