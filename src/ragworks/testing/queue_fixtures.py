"""What the job queue contract mixins share: constants, the fixtures an adapter provides, helpers."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest

from ragworks.domain import Job
from ragworks.engines.queue.base import JobAdmin, JobQueue

KIND = "test.work"
OTHER = "test.other"
EXPIRED_S = -60.0  # a lease that is over as soon as it is taken
WAKE_UP_WAIT_S = 5.0  # how long a wake-up may take to arrive (an adapter may deliver it on a thread)
QUIET_WAIT_S = 0.2  # how long to watch for a wake-up that must not come

QueueOpener = Callable[[], AbstractContextManager[JobQueue]]


def lease_one(queue: JobQueue, owner: str = "w1", lease_s: float = 60) -> Job:
    """Lease exactly one job of ``KIND``."""
    [job] = queue.lease(owner, [KIND], 1, lease_s)
    return job


class QueueFixtures:
    """The fixtures every queue mixin uses; adapters' test classes override them."""

    @pytest.fixture
    def queue(self) -> JobQueue:
        """The job queue under test, empty."""
        raise NotImplementedError("the adapter's test class provides a started JobQueue")

    @pytest.fixture
    def admin(self) -> JobAdmin:
        """The job admin over the same jobs as ``queue``."""
        raise NotImplementedError("the adapter's test class provides a JobAdmin")
