"""Retry policy: which errors are worth another attempt, and when."""

from __future__ import annotations

import random

from ragworks.errors import RagworksError

# Errors in the input itself: another attempt would fail the same way.
PERMANENT_STATUS = range(400, 500)


def is_permanent(error: BaseException) -> bool:
    """True when retrying cannot help (bad input, missing collection, ...)."""
    return isinstance(error, RagworksError) and error.status_code in PERMANENT_STATUS


def backoff_delay(attempt: int, base_s: float, max_s: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter in the upper half: base·2^(attempt-1), capped, ×[0.5, 1]."""
    ceiling = min(max_s, base_s * 2.0 ** max(attempt - 1, 0))
    jitter: float = (rng or random.Random()).random()
    return ceiling * (0.5 + 0.5 * jitter)
