"""Retry policy: which errors are worth another attempt, which are outages, and when to try again."""

from __future__ import annotations

import errno
import random
from collections.abc import Sequence
from typing import Any

from ragworks.domain import JobKind
from ragworks.errors import RagworksError

# Errors in the input itself: another attempt would fail the same way.
PERMANENT_STATUS = range(400, 500)
# What a full disk looks like from engines that do not raise DiskFull themselves (tantivy's io errors,
# SQLite through a driver other than the store's).
_DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
_DISK_FULL_MESSAGES = ("No space left on device", "Disk quota exceeded", "database or disk is full")


def is_permanent(error: BaseException) -> bool:
    """True when retrying cannot help (bad input, missing collection, ...)."""
    return isinstance(error, RagworksError) and error.status_code in PERMANENT_STATUS


def is_outage(error: BaseException) -> bool:
    """True when a part of the platform was down or full (``RagworksError.outage``: the disk, a busy
    store, the model service), in the error or anything it was raised from: the job is not at fault,
    and the attempt does not count toward its ``max_attempts``."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, RagworksError) and current.outage:
            return True
        if isinstance(current, OSError) and current.errno in _DISK_FULL_ERRNOS:
            return True
        if any(text in str(current) for text in _DISK_FULL_MESSAGES):
            return True
        current = current.__cause__ or current.__context__
    return False


def rides_out_outages(kind: str) -> bool:
    """Whether a job of ``kind`` waits an outage out however long it lasts. Every kind does but service
    calls: their caller is waiting, and gets the error (and a dead letter to replay) once the call's
    ``services.max_attempts`` are spent, rather than an answer that may never come."""
    return kind != JobKind.SERVICE_RUN


def outage_streak(history: Sequence[dict[str, Any]]) -> int:
    """How many of a job's latest attempts in a row failed on an outage."""
    streak = 0
    for entry in reversed(history):
        if not entry.get("outage"):
            break
        streak += 1
    return streak


def backoff_delay(attempt: int, base_s: float, max_s: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter in the upper half: base·2^(attempt-1), capped, ×[0.5, 1]."""
    ceiling = min(max_s, base_s * 2.0 ** max(attempt - 1, 0))
    jitter: float = (rng or random.Random()).random()
    return ceiling * (0.5 + 0.5 * jitter)
