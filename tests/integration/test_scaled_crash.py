"""`ragworks up --workers 3`: 500 documents ingest while a worker is killed with SIGKILL every 10 s.

Every document ends `ready`, no chunk is stored twice, the index holds exactly the served chunks, and
each job a killed worker held is leased again by another within 30 s (the lease, 20 s by default, runs
out; heartbeats keep the live workers' leases). The numbers are printed (`pytest -s`).
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest

from helpers.stack import RunningStack, running_stack
from ragworks.engines.index.providers import PROVIDERS
from ragworks.stack.runfiles import RunDir, is_alive

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif("postgres" not in PROVIDERS, reason="the PostgreSQL index provider is not registered"),
]

DOCUMENTS = 500
KILL_EVERY_S = 10.0
RELEASE_WITHIN_S = 30.0


@dataclass
class Kill:
    """One SIGKILL: when, whose jobs, and when each was leased again."""

    at: float
    pid: int
    held: set[str]
    released: dict[str, float] = field(default_factory=dict)


@pytest.fixture
def stack() -> Iterator[RunningStack]:
    restarts = "restart_delay_s = 1.0\nrestart_delay_max_s = 2.0"
    with running_stack("ragworks-crash-", workers=3, stack_extra=restarts) as running:
        yield running


def passages(shared_data: Path, count: int) -> list[dict[str, str]]:
    """The first ``count`` MS MARCO passages (real text, a few sentences each)."""
    with (shared_data / "eval" / "msmarco-subset" / "corpus.jsonl").open(encoding="utf-8") as lines:
        rows = [json.loads(line) for line in itertools.islice(lines, count)]
    return [{"id": row["_id"], "title": row.get("title") or "", "text": row["text"]} for row in rows]


def running_workers(run: RunDir) -> list[int]:
    state = run.read_state()
    assert state is not None
    return [
        p.pid
        for p in state.processes
        if p.name.startswith("worker-") and p.pid and is_alive(p.pid, p.pid_start)
    ]


def held_by(db: psycopg.Connection[tuple[object, ...]], pid: int) -> set[str]:
    """Ids of the running jobs whose lease a worker process holds (owners are host-pid-suffix)."""
    rows = db.execute(
        "SELECT id FROM jobs WHERE status = 'running' AND lease_owner LIKE %s", (f"%-{pid}-%",)
    ).fetchall()
    return {str(r[0]) for r in rows}


def watch_releases(database: str, kills: list[Kill], done: threading.Event) -> None:
    """Record when each job of a killed worker is leased by another (or otherwise leaves its lease)."""
    with psycopg.connect(database, autocommit=True) as db:
        while not done.is_set():
            now = time.monotonic()
            for kill in list(kills):
                waiting = kill.held - kill.released.keys()
                if not waiting:
                    continue
                rows = db.execute(
                    "SELECT id FROM jobs WHERE id = ANY(%s) AND (status != 'running' OR lease_owner NOT LIKE %s)",
                    (list(waiting), f"%-{kill.pid}-%"),
                ).fetchall()
                for (job_id,) in rows:
                    kill.released[str(job_id)] = now - kill.at
            time.sleep(0.25)


def test_killed_workers_lose_no_job_and_store_no_chunk_twice(stack: RunningStack, shared_data: Path) -> None:
    documents = passages(shared_data, DOCUMENTS)
    run = RunDir(stack.data_dir / "run")
    kills: list[Kill] = []
    done = threading.Event()
    watcher = threading.Thread(target=watch_releases, args=(stack.database, kills, done), daemon=True)
    watcher.start()
    started = time.monotonic()
    with (
        httpx.Client(base_url=stack.api, timeout=60) as client,
        psycopg.connect(stack.database, autocommit=True) as db,
    ):
        client.post("/v1/collections", json={"name": "crash"}).raise_for_status()
        for offset in range(0, DOCUMENTS, 100):
            batch = {"documents": documents[offset : offset + 100]}
            assert client.post("/v1/collections/crash/documents", json=batch).status_code == 202

        def ready() -> int:
            row = db.execute(
                "SELECT count(*) FROM documents WHERE collection = 'crash' AND status = 'ready'"
            ).fetchone()
            return int(row[0]) if row else 0

        next_kill = time.monotonic() + KILL_EVERY_S
        while ready() < DOCUMENTS:
            assert time.monotonic() - started < 1500, f"only {ready()} of {DOCUMENTS} ready after 1,500 s"
            if time.monotonic() >= next_kill:
                alive = running_workers(run)
                if alive:
                    victim = alive[len(kills) % len(alive)]
                    held = held_by(db, victim)
                    os.kill(victim, signal.SIGKILL)
                    kills.append(Kill(time.monotonic(), victim, held))
                next_kill = time.monotonic() + KILL_EVERY_S
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        wait_deadline = time.monotonic() + RELEASE_WITHIN_S
        while any(k.held - k.released.keys() for k in kills) and time.monotonic() < wait_deadline:
            time.sleep(0.5)
        done.set()
        watcher.join(timeout=10)

        statuses = dict(
            db.execute("SELECT status, count(*) FROM documents WHERE collection = 'crash' GROUP BY status")
        )
        duplicates = db.execute(
            "SELECT count(*) FROM (SELECT document_id, version, ordinal FROM chunks WHERE collection = 'crash'"
            " GROUP BY document_id, version, ordinal HAVING count(*) > 1) AS twice"
        ).fetchone()
        stored = db.execute(
            "SELECT count(*) FROM chunks c JOIN documents d ON d.collection = c.collection"
            " AND d.id = c.document_id AND d.active_version = c.version WHERE c.collection = 'crash'"
        ).fetchone()
        counted = db.execute("SELECT sum(chunk_count) FROM documents WHERE collection = 'crash'").fetchone()
        jobs = dict(db.execute("SELECT status, count(*) FROM jobs GROUP BY status"))
        reruns = db.execute("SELECT count(*) FROM jobs WHERE attempts > 1").fetchone()
        collection = client.get("/v1/collections/crash").json()
        indexed = [
            float(line.rsplit(" ", 1)[1])
            for line in client.get("/metrics").text.splitlines()
            if line.startswith("index_chunks{") and 'collection="crash"' in line
        ]

    orphaned = sum(len(k.held) for k in kills)
    delays = [d for k in kills for d in k.released.values()]
    print(
        f"\n{DOCUMENTS} documents, 3 workers, {len(kills)} SIGKILLs every {KILL_EVERY_S:.0f} s: all ready in"
        f" {elapsed:.0f} s; documents by status {statuses}; jobs by status {jobs}; {orphaned} jobs held by"
        f" killed workers, re-leased after {min(delays, default=0):.1f}-{max(delays, default=0):.1f} s;"
        f" {reruns[0] if reruns else 0} jobs ran more than once; chunks stored {stored[0] if stored else 0},"
        f" counted {counted[0] if counted else 0}, stored twice {duplicates[0] if duplicates else 0}"
    )
    assert kills, "no worker was killed: ingestion finished within the first interval"
    assert statuses == {"ready": DOCUMENTS}
    assert duplicates is not None and duplicates[0] == 0
    assert stored is not None and counted is not None and stored[0] == counted[0]
    assert collection["chunk_count"] == stored[0]
    assert indexed == [float(stored[0])], f"the index holds {indexed}, the store serves {stored[0]}"
    assert set(jobs) <= {"succeeded"}, jobs
    unreleased = [(k.pid, sorted(k.held - k.released.keys())) for k in kills if k.held - k.released.keys()]
    assert not unreleased, f"jobs of killed workers never leased again: {unreleased}"
    assert max(delays, default=0.0) <= RELEASE_WITHIN_S
