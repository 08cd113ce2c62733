"""Fixed, log-spaced latency buckets: percentiles over any range merge exactly from bucket counts.

Bucket ``i`` holds durations in ``(edge(i - 1), edge(i)]`` with ``edge(i) = 0.05 ms * 2 ** (i / 8)``:
eight buckets per doubling, from 0.05 ms up to about an hour (bucket 0 holds everything up to 0.05 ms,
the last everything longer). A percentile is reported as the upper edge of the bucket that holds it, so
it is never below the exact value and at most 2 ** (1/8) - 1 = 9.05 % above it (0.05 ms below 0.05 ms).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

FIRST_EDGE_MS = 0.05
BUCKETS_PER_DOUBLING = 8
LAST_BUCKET = 210  # edge(209) is about 65 minutes; longer requests all land here
RESOLUTION = (
    "8 log-spaced buckets per doubling from 0.05 ms: a percentile is at most 9.05 % above the exact value"
)


def bucket_of(duration_ms: float) -> int:
    """The bucket that holds ``duration_ms``."""
    if duration_ms <= FIRST_EDGE_MS:
        return 0
    index = math.ceil(BUCKETS_PER_DOUBLING * math.log2(duration_ms / FIRST_EDGE_MS) - 1e-9)
    return min(index, LAST_BUCKET)


def upper_edge(bucket: int) -> float:
    """The largest duration (ms) bucket ``bucket`` holds (the last bucket reports its lower edge)."""
    return FIRST_EDGE_MS * 2 ** (min(bucket, LAST_BUCKET - 1) / BUCKETS_PER_DOUBLING)


def percentile(counts: Mapping[int, int], q: float) -> float | None:
    """The nearest-rank ``q`` quantile (0 < q <= 1) of the durations counted in ``counts`` (bucket ->
    count), as its bucket's upper edge; None when nothing was counted."""
    total = sum(counts.values())
    if total <= 0:
        return None
    rank = max(1, math.ceil(q * total - 1e-9))
    seen = 0
    for bucket in sorted(counts):
        seen += counts[bucket]
        if seen >= rank:
            return round(upper_edge(bucket), 3)
    return round(upper_edge(max(counts)), 3)


def merge(into: dict[int, int], counts: Iterable[tuple[int, int]]) -> dict[int, int]:
    """Add ``(bucket, count)`` pairs to ``into`` and return it."""
    for bucket, count in counts:
        into[bucket] = into.get(bucket, 0) + count
    return into
