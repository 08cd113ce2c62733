"""SqlJobQueue: the JobQueue and JobAdmin contract suites, two worker processes included."""

from __future__ import annotations

from helpers.store import SqliteStores
from ragworks.testing.queue_contract import JobAdminContract, JobQueueContract


class TestSqlJobQueue(SqliteStores, JobQueueContract, JobAdminContract):
    """Jobs in a real SQLite file; the concurrency test opens it from two spawned processes."""
