"""Shared fixtures: paths to the evaluation data and real document files beside the checkout."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

# The contract suites live in the package; their asserts get pytest's explanations like the tests' own.
pytest.register_assert_rewrite("ragworks.testing")

from helpers.store import open_database  # noqa: E402 - after the rewrite hook
from ragworks.engines.queue.sql import SqlJobQueue  # noqa: E402
from ragworks.engines.store.sql import SqlDatabase  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data folder (evaluation sets, real HWP files); read-only, never copied."""
    if not SHARED_DATA.is_dir():
        raise RuntimeError(f"shared data not found at {SHARED_DATA}; it must sit beside the checkout")
    return SHARED_DATA


@pytest.fixture
def db(tmp_path: Path) -> Iterator[SqlDatabase]:
    """A migrated SQLite metadata database in the test's temporary folder."""
    with open_database(tmp_path) as database:
        yield database


@pytest.fixture
def queue(db: SqlDatabase) -> SqlJobQueue:
    """The job queue on ``db``."""
    return SqlJobQueue(db)
