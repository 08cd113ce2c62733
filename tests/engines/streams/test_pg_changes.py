"""The PostgreSQL table change feed on the real server the engine fixtures start (``postgres_server``):
captured inserts, updates and deletes, backfill, acknowledgement and redelivery, groups, and
transactions that commit out of id order. (Publishing is writing rows, so the broker contract's
byte-for-byte checks do not apply.)"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import psycopg
import pytest

from helpers.postgres import PostgresServer
from ragworks.engines.streams import pg_changes
from ragworks.engines.streams.base import SourceOptions, StreamMessage, StreamSource
from ragworks.engines.streams.pg_changes import TableChangeSource, conninfo
from ragworks.engines.streams.providers import open_publisher, open_source
from ragworks.testing.stream_contract import fetch_for, fetch_until

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

DEADLINE_S = 10.0


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def app_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database of this test's own on the session's server: an application's database
    (the change feed needs none of the store's tables)."""
    name = postgres_server.create_database()
    yield postgres_server.url(name)
    postgres_server.drop_database(name)


@pytest.fixture
def db(app_url: str) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection to this test's database, with a ``notes`` table of two rows."""
    with psycopg.connect(conninfo(app_url), autocommit=True) as conn:
        conn.execute("CREATE TABLE notes (id integer PRIMARY KEY, body text NOT NULL)")
        conn.execute("INSERT INTO notes VALUES (1, 'old one'), (2, 'old two')")
        yield conn


@pytest.fixture
def open_changes(app_url: str) -> Any:
    """Opens started change sources on this test's database."""

    @asynccontextmanager
    async def opener(
        stream: str = "notes",
        group: str = "g",
        consumer: str = "c1",
        redeliver_after_s: float = 60.0,
        **extra: Any,
    ) -> AsyncIterator[StreamSource]:
        source = open_source(app_url, stream, SourceOptions(group, consumer, redeliver_after_s, extra))
        await source.start()
        try:
            yield source
        finally:
            await source.close()

    return opener


def rows(messages: list[StreamMessage]) -> list[dict[str, Any]]:
    return [json.loads(m.value or b"null") for m in messages]


async def test_backfill_then_inserts_updates_and_deletes_in_commit_order(
    db: psycopg.Connection[Any], open_changes: Any
) -> None:
    async with open_changes() as source:
        assert isinstance(source, TableChangeSource)
        backfilled = await fetch_until(source, 2, DEADLINE_S)
        assert rows(backfilled) == [
            {"id": 1, "body": "old one", "op": "insert"},
            {"id": 2, "body": "old two", "op": "insert"},
        ]
        await source.ack(backfilled)
        db.execute("INSERT INTO notes VALUES (3, 'new')")
        db.execute("UPDATE notes SET body = 'edited' WHERE id = 3")
        db.execute("DELETE FROM notes WHERE id = 1")
        changes = await fetch_until(source, 3, DEADLINE_S)
        assert rows(changes) == [
            {"id": 3, "body": "new", "op": "insert"},
            {"id": 3, "body": "edited", "op": "update"},
            {"id": 1, "body": "old one", "op": "delete"},  # a delete carries the old row
        ]
        assert [m.key for m in changes] == [b"3", b"3", b"1"]
        assert dict(changes[2].headers) == {"op": "delete", "table": "public.notes"}
        assert [int(m.position) for m in changes] == sorted(int(m.position) for m in changes)


async def test_backfill_happens_once_and_can_be_turned_off(
    db: psycopg.Connection[Any], open_changes: Any
) -> None:
    async with open_changes(backfill=False) as source:
        assert await fetch_for(source, 0.3) == []
    db.execute("CREATE TABLE tags (name text PRIMARY KEY)")
    db.execute("INSERT INTO tags VALUES ('a')")
    async with open_changes("tags") as source:
        await source.ack(await fetch_until(source, 1, DEADLINE_S))
    async with open_changes("tags", group="later") as source:  # a second start captures nothing again
        assert rows(await fetch_for(source, 0.3)) == [{"name": "a", "op": "insert"}]


@pytest.mark.usefixtures("db")
async def test_unacked_changes_come_back_after_reopen_and_acked_do_not(open_changes: Any) -> None:
    async with open_changes() as source:
        done, pending = await fetch_until(source, 2, DEADLINE_S)
        await source.ack([done])
        assert await fetch_for(source, 0.3) == []  # in flight with this consumer: not delivered twice
    started = time.monotonic()
    async with open_changes() as source:
        [again] = await fetch_until(source, 1, DEADLINE_S)
        assert (again.position, again.deliveries) == (pending.position, 2)
        assert time.monotonic() - started < 30.0  # at once, not after redeliver_after_s
        await source.ack([again])
    async with open_changes() as source:
        assert await fetch_for(source, 0.3) == []


@pytest.mark.usefixtures("db")
async def test_another_consumer_takes_over_after_redeliver_after_s(open_changes: Any) -> None:
    async with (
        open_changes(redeliver_after_s=0.5) as first,
        open_changes(consumer="c2", redeliver_after_s=0.5) as second,
    ):
        taken = await fetch_until(first, 2, DEADLINE_S)
        assert await second.fetch(10, 0.0) == []  # claimed by the first
        again = await fetch_until(second, 2, DEADLINE_S)
        assert [m.position for m in again] == [m.position for m in taken]
        assert all(m.deliveries == 2 for m in again)
        await second.ack(again)
        await first.ack(taken)  # late: harmless
        assert await fetch_for(first, 1.0) == []


async def test_two_groups_each_see_every_change(db: psycopg.Connection[Any], open_changes: Any) -> None:
    async with open_changes(group="search") as search, open_changes(group="audit") as audit:
        db.execute("UPDATE notes SET body = 'x'")
        for source in (search, audit):
            messages = await fetch_until(source, 4, DEADLINE_S)
            assert [row["op"] for row in rows(messages)] == ["insert", "insert", "update", "update"]
            await source.ack(messages)


async def test_transactions_committing_out_of_id_order_lose_nothing(
    db: psycopg.Connection[Any], open_changes: Any, app_url: str
) -> None:
    async with open_changes(backfill=False) as source:
        with psycopg.connect(conninfo(app_url)) as slow:
            slow.execute("INSERT INTO notes VALUES (10, 'takes its id first, commits last')")
            db.execute("INSERT INTO notes VALUES (11, 'commits first')")
            [first] = await fetch_until(source, 1, DEADLINE_S)
            await source.ack([first])
            slow.commit()
        [late] = await fetch_until(source, 1, DEADLINE_S)
        assert int(late.position) < int(first.position)
        assert (first.key, late.key) == (b"11", b"10")
        assert await source.lag() == 0
        await source.ack([late])
    # with no capturing transaction open the floor passes both, and their claims are dropped
    assert db.execute("SELECT acked_through FROM ragworks_change_floors").fetchall() == [
        (int(first.position),)
    ]
    assert db.execute("SELECT count(*) FROM ragworks_change_claims").fetchone() == (0,)


@pytest.mark.usefixtures("db")
async def test_many_concurrent_writers_lose_nothing(open_changes: Any, app_url: str) -> None:
    writers, per_writer = 6, 30
    expected = {str(1000 * (w + 1) + i).encode() for w in range(writers) for i in range(per_writer)}

    def write(writer: int) -> None:
        with psycopg.connect(conninfo(app_url)) as conn:
            for i in range(per_writer):
                conn.execute("INSERT INTO notes VALUES (%s, 'x')", (1000 * (writer + 1) + i,))
                time.sleep(random.random() / 200)  # hold the transaction open so commits interleave
                conn.commit()

    seen: set[bytes] = set()
    async with open_changes(backfill=False) as first, open_changes(backfill=False, consumer="c2") as second:
        threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 3 * DEADLINE_S
        while seen != expected and time.monotonic() < deadline:
            for source in (first, second):
                batch = await source.fetch(20, 0.05)
                await source.ack(batch)
                seen.update(m.key or b"" for m in batch)
        for thread in threads:
            thread.join()
    assert seen == expected


async def test_fetch_wakes_when_a_change_is_committed(
    db: psycopg.Connection[Any], open_changes: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pg_changes, "POLL_S", DEADLINE_S)  # only the notification can wake it in time
    async with open_changes(backfill=False) as source:
        got: list[StreamMessage] = []

        async def wait_for_change() -> None:
            got.extend(await source.fetch(10, DEADLINE_S))

        started = time.monotonic()
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(wait_for_change)
            await anyio.to_thread.run_sync(db.execute, "INSERT INTO notes VALUES (5, 'wake')")
        assert [m.key for m in got] == [b"5"]
        assert time.monotonic() - started < DEADLINE_S / 2


@pytest.mark.usefixtures("db")
async def test_lag_counts_changes_not_yet_delivered(open_changes: Any) -> None:
    async with open_changes() as source:
        assert await source.lag() == 2
        await source.ack(await fetch_until(source, 1, DEADLINE_S, limit=1))
        assert await source.lag() == 1


async def test_schema_qualified_table_with_a_composite_key(
    db: psycopg.Connection[Any], open_changes: Any
) -> None:
    db.execute("CREATE SCHEMA app")
    db.execute("CREATE TABLE app.pages (book text, page integer, body text, PRIMARY KEY (book, page))")
    db.execute("INSERT INTO app.pages VALUES ('b', 7, 'text')")
    async with open_changes("app.pages") as source:
        [message] = await fetch_until(source, 1, DEADLINE_S)
    assert json.loads(message.key or b"") == ["b", "7"]
    assert message.headers["table"] == "app.pages"


async def test_table_without_primary_key_is_refused(db: psycopg.Connection[Any], open_changes: Any) -> None:
    db.execute("CREATE TABLE loose (body text)")
    with pytest.raises(ValueError, match="primary key"):
        async with open_changes("loose"):
            pass


def test_a_change_feed_cannot_be_published_to(app_url: str) -> None:
    with pytest.raises(ValueError, match="change feed"):
        open_publisher(app_url)
