"""`ragworks consume` killed with SIGKILL mid-stream, on Redis Streams and on NATS JetStream.

800 documents are published; the consumer is killed once at least 200 are accepted; 200 more are
published while it is down; it restarts under the same name. All 1,000 end `ready`, none is missing,
every document has exactly one version and one ingest job, and no chunk is stored twice. The numbers
are printed (`pytest -s`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from helpers.nats import nats_server
from helpers.redis import redis_server
from helpers.stack import RunningStack, running_stack
from ragworks.engines.streams.providers import open_publisher
from ragworks.stack.probes import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FIRST, SECOND, KILL_AFTER = 800, 200, 200


@pytest.fixture(scope="module")
def stack() -> Iterator[RunningStack]:
    """`ragworks up` with PostgreSQL, the API and two workers (no consumer: the test runs its own)."""
    with running_stack("ragworks-stream-crash-", workers=2, ingest_batch=64) as running:
        yield running


@pytest.fixture(params=["redis", "nats"])
def broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    server = redis_server if request.param == "redis" else nats_server
    with server(tmp_path) as url:
        yield url


def passages(shared_data: Path, count: int) -> list[dict[str, str]]:
    with (shared_data / "eval" / "msmarco-subset" / "corpus.jsonl").open(encoding="utf-8") as lines:
        rows = [json.loads(line) for line in itertools.islice(lines, count)]
    return [{"id": row["_id"], "title": row.get("title") or "", "text": row["text"]} for row in rows]


def publish(url: str, stream: str, documents: list[dict[str, str]]) -> None:
    async def run() -> None:
        publisher = open_publisher(url)
        await publisher.start()
        try:
            for document in documents:
                await publisher.publish(stream, json.dumps(document).encode())
        finally:
            await publisher.close()

    asyncio.run(run())


def start_consumer(stack: RunningStack, streams: Path, log: Path) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "RAGWORKS_STORE__URL": stack.database.replace("postgresql://", "postgresql+psycopg://"),
        "RAGWORKS_DATA_DIR": str(stack.data_dir),
        "RAGWORKS_CONSUMER_NAME": "consumer-1",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "ragworks", "consume", "--config", str(streams)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def count(db: psycopg.Connection[tuple[object, ...]], sql: str, *args: object) -> int:
    row = db.execute(sql, args).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def scrape(port: int, name: str) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{"))


def test_a_killed_consumer_loses_nothing_and_applies_nothing_twice(
    stack: RunningStack, broker: str, shared_data: Path, tmp_path: Path
) -> None:
    scheme = broker.split(":", 1)[0]
    collection, stream = f"crash-{scheme}", f"crash.{scheme}.documents"
    documents = passages(shared_data, FIRST + SECOND)
    metrics_port = free_port()
    streams = tmp_path / "streams.toml"
    streams.write_text(
        f"""
[consumer]
batch = 100
redeliver_after_s = 5
metrics_port = {metrics_port}
[[sources]]
url = "{broker}"
stream = "{stream}"
collection = "{collection}"
dead_letter = "{stream}.dlq"
"""
    )
    log = tmp_path / "consumer.log"
    publish(broker, stream, documents[:FIRST])
    started = time.monotonic()
    with psycopg.connect(stack.database, autocommit=True) as db:
        accepted_sql = "SELECT count(*) FROM documents WHERE collection = %s"
        consumer = start_consumer(stack, streams, log)
        while (accepted := count(db, accepted_sql, collection)) < KILL_AFTER:
            assert consumer.poll() is None, log.read_text()
            assert time.monotonic() - started < 300, f"only {accepted} accepted after 300 s"
            time.sleep(0.05)
        consumer.send_signal(signal.SIGKILL)
        consumer.wait()
        at_kill = count(db, accepted_sql, collection)
        publish(broker, stream, documents[FIRST:])
        consumer = start_consumer(stack, streams, log)
        try:
            ready_sql = "SELECT count(*) FROM documents WHERE collection = %s AND status = 'ready'"
            while (ready := count(db, ready_sql, collection)) < FIRST + SECOND:
                assert consumer.poll() is None, log.read_text()
                assert time.monotonic() - started < 1200, f"only {ready} ready after 1,200 s"
                time.sleep(0.5)
            elapsed = time.monotonic() - started
            redelivered = scrape(metrics_port, "ragworks_stream_redelivered_total")
            unchanged = scrape(metrics_port, 'ragworks_stream_messages_total{outcome="unchanged"')
        finally:
            consumer.terminate()
            consumer.wait(timeout=60)

        ids = {str(r[0]) for r in db.execute("SELECT id FROM documents WHERE collection = %s", (collection,))}
        versions = count(db, "SELECT max(version) FROM documents WHERE collection = %s", collection)
        jobs = count(
            db, "SELECT count(*) FROM jobs WHERE kind = 'document.ingest' AND collection = %s", collection
        )
        twice = count(
            db,
            "SELECT count(*) FROM (SELECT document_id, ordinal FROM chunks WHERE collection = %s"
            " GROUP BY document_id, version, ordinal HAVING count(*) > 1) AS twice",
            collection,
        )
        chunks = count(db, "SELECT count(*) FROM chunks WHERE collection = %s", collection)
    print(
        f"\n{scheme}: {FIRST} published, consumer killed with {at_kill} accepted, {SECOND} published while"
        f" it was down; after the restart {redelivered:.0f} messages were delivered again ({unchanged:.0f}"
        f" found unchanged); all {len(ids)} ready in {elapsed:.0f} s; highest version {versions};"
        f" {jobs} ingest jobs; {chunks} chunks, {twice} stored twice"
    )
    assert ids == {d["id"] for d in documents}
    assert versions == 1 and jobs == FIRST + SECOND and twice == 0
    assert at_kill >= KILL_AFTER
