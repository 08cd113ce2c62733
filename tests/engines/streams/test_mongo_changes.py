"""The MongoDB change feed: its behaviour against a real replica set only (``RAGWORKS_TEST_MONGO`` =
``mongodb://host:port/?replicaSet=NAME``; no MongoDB server can be installed on this machine, and a
change stream is too much of the server to fake faithfully), and what needs no server."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from ragworks.engines.streams.base import SourceOptions, StreamSource
from ragworks.engines.streams.mongo_changes import ChangeStreamSource
from ragworks.engines.streams.providers import open_source
from ragworks.testing.stream_contract import fetch_for, fetch_until

MONGO = os.environ.get("RAGWORKS_TEST_MONGO")

pytestmark = [pytest.mark.integration, pytest.mark.anyio]
needs_server = pytest.mark.skipif(
    MONGO is None,
    reason="set RAGWORKS_TEST_MONGO to a replica set's mongodb:// URL (no MongoDB server can be installed here)",
)

DEADLINE_S = 15.0


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def mongo_url() -> AsyncIterator[str]:
    """The test server's URL with a database of this test's own, dropped afterwards."""
    from pymongo import AsyncMongoClient

    assert MONGO is not None
    parts = urlsplit(MONGO)
    url = urlunsplit((parts.scheme, parts.netloc, f"/ragworks_test_{uuid.uuid4().hex[:10]}", parts.query, ""))
    yield url
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url)
    await client.drop_database(client.get_default_database())
    await client.close()


@pytest.fixture
async def notes(mongo_url: str) -> AsyncIterator[Any]:
    """The ``notes`` collection of the test database."""
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    yield client.get_default_database()["notes"]
    await client.close()


@pytest.fixture
def open_changes(mongo_url: str) -> Any:
    @asynccontextmanager
    async def opener(group: str = "g", redeliver_after_s: float = 60.0) -> AsyncIterator[StreamSource]:
        source = open_source(mongo_url, "notes", SourceOptions(group, "c1", redeliver_after_s))
        await source.start()
        try:
            yield source
        finally:
            await source.close()

    return opener


@needs_server
async def test_inserts_updates_and_deletes_arrive_in_order(notes: Any, open_changes: Any) -> None:
    async with open_changes() as source:
        await notes.insert_one({"_id": "n1", "body": "new"})
        await notes.update_one({"_id": "n1"}, {"$set": {"body": "edited"}})
        await notes.delete_one({"_id": "n1"})
        messages = await fetch_until(source, 3, DEADLINE_S)
        assert [json.loads(m.value or b"") for m in messages] == [
            {"_id": "n1", "body": "new", "op": "insert"},
            {"_id": "n1", "body": "edited", "op": "update"},
            {"_id": "n1", "op": "delete"},
        ]
        assert {m.key for m in messages} == {b"n1"}
        await source.ack(messages)


@needs_server
async def test_restart_resumes_after_the_last_acknowledged_change(notes: Any, open_changes: Any) -> None:
    async with open_changes() as source:
        await notes.insert_many([{"_id": "a"}, {"_id": "b"}])
        done, pending = await fetch_until(source, 2, DEADLINE_S)
        await source.ack([done])
    await notes.insert_one({"_id": "c"})  # while no consumer runs
    async with open_changes() as source:
        messages = await fetch_until(source, 2, DEADLINE_S)
        assert [m.key for m in messages] == [b"b", b"c"]
        assert messages[0].position == pending.position
        await source.ack(messages)
    async with open_changes() as source:
        assert await fetch_for(source, 1.0) == []


@needs_server
async def test_unacked_change_comes_back_to_a_live_consumer(notes: Any, open_changes: Any) -> None:
    async with open_changes(redeliver_after_s=0.5) as source:
        await notes.insert_one({"_id": "slow"})
        [first] = await fetch_until(source, 1, DEADLINE_S)
        [again] = await fetch_until(source, 1, DEADLINE_S)
        assert (again.position, again.deliveries) == (first.position, 2)
        await source.ack([again])


def test_only_mongodb_urls_are_accepted() -> None:
    with pytest.raises(ValueError, match="MongoDB"):
        ChangeStreamSource("redis://localhost/0", "notes", SourceOptions())
