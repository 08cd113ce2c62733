"""Contract tests every JobQueue and JobAdmin adapter must pass, one mixin per capability.

An adapter's test class lists the mixins it passes (or ``JobQueueContract`` and ``JobAdminContract``
for all of them) after a base that provides, over one fresh, started, empty queue:

- ``queue``: the ``JobQueue`` under test;
- ``admin``: the ``JobAdmin`` over the same jobs (often the same object);
- ``open_queue`` (``ConcurrentLeaseTest`` only): a picklable callable that, in another process,
  returns a context manager yielding a started ``JobQueue`` over those same jobs (a module-level
  function bound to a URL with ``functools.partial``, for instance).

Fixtures are looked up along the class's MRO, so the base that provides them comes first::

    class TestSqlJobQueue(SqliteStores, JobQueueContract, JobAdminContract): ...

Expired leases are made through the port: a lease of ``EXPIRED_S`` seconds is over at once.
"""

from __future__ import annotations

from ragworks.testing.queue_admin_contract import CancelTest, CountsTest, ListJobsTest, RetryTest
from ragworks.testing.queue_events_contract import BlobInUseTest, ReleaseTest, WakeUpTest
from ragworks.testing.queue_fixtures import QueueFixtures, QueueOpener
from ragworks.testing.queue_lease_contract import (
    CompleteTest,
    EnqueueTest,
    FailTest,
    HeartbeatTest,
    LeaseTest,
    ProgressTest,
)
from ragworks.testing.queue_processes_contract import ConcurrentLeaseTest

__all__ = [
    "BlobInUseTest",
    "CancelTest",
    "CompleteTest",
    "ConcurrentLeaseTest",
    "CountsTest",
    "EnqueueTest",
    "FailTest",
    "HeartbeatTest",
    "JobAdminContract",
    "JobQueueContract",
    "LeaseTest",
    "ListJobsTest",
    "ProgressTest",
    "QueueFixtures",
    "QueueOpener",
    "ReleaseTest",
    "RetryTest",
    "WakeUpTest",
]


class JobQueueContract(
    EnqueueTest,
    LeaseTest,
    HeartbeatTest,
    ProgressTest,
    CompleteTest,
    FailTest,
    ReleaseTest,
    BlobInUseTest,
    WakeUpTest,
    ConcurrentLeaseTest,
):
    """Every JobQueue capability (jobs are read back through ``admin``)."""


class JobAdminContract(RetryTest, CancelTest, ListJobsTest, CountsTest):
    """Every JobAdmin capability."""
