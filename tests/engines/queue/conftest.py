"""Fixtures: a job queue on a migrated SQLite database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.store import open_database
from ragworks.engines.queue.sql import SqlJobQueue
from ragworks.engines.store.sql import SqlDatabase


@pytest.fixture
def db(tmp_path: Path) -> Iterator[SqlDatabase]:
    with open_database(tmp_path) as database:
        yield database


@pytest.fixture
def queue(db: SqlDatabase) -> SqlJobQueue:
    return SqlJobQueue(db)
