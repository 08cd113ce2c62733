"""PostgresJobQueue: the JobQueue and JobAdmin contract suites, two worker processes included."""

from __future__ import annotations

from helpers.postgres import PostgresStores
from ragworks.testing.queue_contract import JobAdminContract, JobQueueContract


class TestPostgresJobQueue(PostgresStores, JobQueueContract, JobAdminContract):
    """Jobs on a fresh database of the session's PostgreSQL server; the concurrency test leases from
    two spawned processes (SKIP LOCKED), and wake-ups travel through LISTEN/NOTIFY."""
