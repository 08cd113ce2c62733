"""PostgresJobQueue: concurrent leases never share a job; wake-ups reach listeners of other connections
and processes, whoever enqueued."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import text

from helpers.postgres import PostgresServer, wait_until
from helpers.store import draft
from ragworks.engines.queue.postgres import PostgresJobQueue
from ragworks.engines.store.postgres import PostgresDatabase
from ragworks.engines.store.sql import SqlMetadataStore

KIND = "test.work"


@pytest.fixture
def queue(postgres_db: PostgresDatabase) -> Iterator[PostgresJobQueue]:
    queue = PostgresJobQueue(postgres_db)
    yield queue
    queue.close()


@pytest.fixture
def other_db(postgres_url: str) -> Iterator[PostgresDatabase]:
    """A second database object with its own engine and connections: another process's view."""
    db = PostgresDatabase(postgres_url)
    db.start()
    yield db
    db.close()


class Counter:
    """A wake-up callback that counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1

    def grows(self, action: Callable[[], object]) -> bool:
        """Whether a call arrives after ``action`` runs."""
        before = self.calls
        action()
        return wait_until(lambda: self.calls > before)


@pytest.fixture
def woken(queue: PostgresJobQueue) -> Counter:
    """A callback registered on ``queue``, its listener connected."""
    counter = Counter()
    queue.on_wake_up(counter)
    assert queue.listening.wait(5)
    return counter


def test_concurrent_leasers_never_share_a_job(queue: PostgresJobQueue, other_db: PostgresDatabase) -> None:
    ids = {queue.enqueue(KIND, {"n": i}) for i in range(200)}
    queues = [queue, PostgresJobQueue(other_db)] * 2
    leased: list[list[str]] = [[] for _ in queues]
    barrier = threading.Barrier(len(queues))

    def lease(slot: int) -> None:
        barrier.wait()
        while jobs := queues[slot].lease(f"w{slot}", [KIND], 7, 60):
            leased[slot].extend(job.id for job in jobs)

    threads = [threading.Thread(target=lease, args=(slot,)) for slot in range(len(queues))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    every = [job_id for slot in leased for job_id in slot]
    assert sorted(every) == sorted(ids)  # each job leased exactly once
    assert sum(1 for slot in leased if slot) > 1  # and the leasers really ran side by side


def test_a_job_held_by_a_waiting_lease_is_skipped_not_waited_for(
    queue: PostgresJobQueue, postgres_db: PostgresDatabase
) -> None:
    first, second = queue.enqueue(KIND, {}), queue.enqueue(KIND, {})
    with postgres_db.writer.connect() as other:
        other.execute(text("SELECT id FROM jobs WHERE id = :id FOR UPDATE"), {"id": first})

        leased = queue.lease("w1", [KIND], 10, 60)

        other.rollback()
    assert [job.id for job in leased] == [second]


def test_enqueue_wakes_a_listener_of_another_connection(woken: Counter, other_db: PostgresDatabase) -> None:
    assert woken.grows(lambda: PostgresJobQueue(other_db).enqueue(KIND, {}))


def test_accepting_documents_wakes_workers(woken: Counter, other_db: PostgresDatabase) -> None:
    store = SqlMetadataStore(other_db)
    store.create_collection("docs", "en", "")

    assert woken.grows(
        lambda: store.accept_documents([(draft("docs", "a"), {}), (draft("docs", "b"), {})], 4)
    )


def test_requesting_a_delete_wakes_workers(woken: Counter, other_db: PostgresDatabase) -> None:
    store = SqlMetadataStore(other_db)
    store.create_collection("docs", "en", "")
    store.accept_document(draft("docs", "a"), {}, 4)

    assert woken.grows(lambda: store.request_delete("docs", "a", 4))


def test_a_retry_wakes_workers(woken: Counter, queue: PostgresJobQueue, other_db: PostgresDatabase) -> None:
    job_id = queue.enqueue(KIND, {})
    queue.cancel(job_id)

    assert woken.grows(lambda: PostgresJobQueue(other_db).retry(job_id))


def test_wake_up_reaches_other_connections(woken: Counter, other_db: PostgresDatabase) -> None:
    assert woken.grows(PostgresJobQueue(other_db).wake_up)


def test_work_that_enqueues_nothing_wakes_no_one(
    woken: Counter, queue: PostgresJobQueue, other_db: PostgresDatabase
) -> None:
    job_id = queue.enqueue(KIND, {})
    other = PostgresJobQueue(other_db)
    [job] = other.lease("w1", [KIND], 1, 60)
    wait_until(lambda: False, timeout_s=0.3)  # let the enqueue's notification arrive first
    before = woken.calls

    other.heartbeat("w1", [job_id], 60)
    other.progress("w1", [job_id], 0.5, "embed")
    other.complete("w1", job_id, {})

    assert not wait_until(lambda: woken.calls > before, timeout_s=0.5)
    assert job.id == job_id


def test_another_process_enqueueing_wakes_this_one(woken: Counter, postgres_url: str) -> None:
    code = (
        "import sys\n"
        "from ragworks.engines.queue.postgres import PostgresJobQueue\n"
        "from ragworks.engines.store.postgres import PostgresDatabase\n"
        "db = PostgresDatabase(sys.argv[1]); db.start()\n"
        f"PostgresJobQueue(db).enqueue({KIND!r}, {{}}); db.close()\n"
    )

    assert woken.grows(
        lambda: subprocess.run([sys.executable, "-c", code, postgres_url], check=True, timeout=60)
    )


def test_the_listener_reconnects_and_wakes_workers_once_back(
    woken: Counter, queue: PostgresJobQueue, postgres_server: PostgresServer, other_db: PostgresDatabase
) -> None:
    before = woken.calls
    database = other_db.url.rsplit("/", 1)[1]
    postgres_server.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        f" WHERE query LIKE 'LISTEN%' AND datname = '{database}'"
    )

    assert wait_until(lambda: woken.calls > before)  # called once reconnected: it may have missed some
    assert queue.listening.wait(5)
    assert woken.grows(lambda: PostgresJobQueue(other_db).enqueue(KIND, {}))


def test_a_removed_callback_is_not_called(queue: PostgresJobQueue, other_db: PostgresDatabase) -> None:
    kept, removed = Counter(), Counter()
    queue.on_wake_up(kept)
    queue.on_wake_up(removed)()
    assert queue.listening.wait(5)

    assert kept.grows(lambda: PostgresJobQueue(other_db).enqueue(KIND, {}))
    assert removed.calls == 0


def test_close_stops_the_listener(queue: PostgresJobQueue, postgres_db: PostgresDatabase) -> None:
    queue.on_wake_up(Counter())
    assert queue.listening.wait(5)

    queue.close()

    with postgres_db.reader.connect() as conn:
        listeners = conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND datname = current_database()"
            )
        ).scalar_one()
    assert listeners == 0
    assert not any(t.name.startswith("listen-") for t in threading.enumerate())
