"""In-memory rollups of request records: what each API process adds to the database every few seconds.

The same aggregation reads a request log offline (``ragworks usage --log``), so the figures of both
paths are computed by the same code.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from ragworks.usage.histogram import bucket_of
from ragworks.usage.records import RequestRecord, normalise_query

HOUR_S = 3600
DAY_S = 86_400
OVERFLOW = "~other"  # where requests go once a batch holds max_groups distinct keys


@dataclass(frozen=True, slots=True, order=True)
class RequestKey:
    """The dimensions of one rollup row ('' where a dimension does not apply)."""

    hour: int
    method: str
    route: str
    service: str
    api_key: str
    collection: str
    status_class: str


@dataclass(slots=True)
class RequestTotals:
    """Requests, summed duration and the latency histogram (bucket -> count) of one key."""

    count: int = 0
    duration_ms_sum: float = 0.0
    buckets: dict[int, int] = field(default_factory=dict)

    def add(self, other: RequestTotals) -> None:
        """Add ``other``'s counts to these."""
        self.count += other.count
        self.duration_ms_sum += other.duration_ms_sum
        for bucket, count in other.buckets.items():
            self.buckets[bucket] = self.buckets.get(bucket, 0) + count


@dataclass(frozen=True, slots=True, order=True)
class QueryKey:
    """A normalised query of one UTC day and collection key."""

    day: int
    collection: str
    query: str


@dataclass(slots=True)
class QueryTotals:
    """How often a query was asked, and how often it found nothing."""

    count: int = 0
    zero_results: int = 0


@dataclass(slots=True)
class RollupBatch:
    """Rollups of some records, to be added to the database (or reported directly)."""

    requests: dict[RequestKey, RequestTotals] = field(default_factory=dict)
    queries: dict[QueryKey, QueryTotals] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.requests or self.queries)

    def merge(self, other: RollupBatch) -> None:
        """Add ``other``'s rollups to this batch."""
        for key, totals in other.requests.items():
            self.requests.setdefault(key, RequestTotals()).add(totals)
        for qkey, qtotals in other.queries.items():
            mine = self.queries.setdefault(qkey, QueryTotals())
            mine.count += qtotals.count
            mine.zero_results += qtotals.zero_results


def request_key(record: RequestRecord) -> RequestKey:
    """The rollup row ``record`` is counted in."""
    return RequestKey(
        hour=int(record.ts // HOUR_S) * HOUR_S,
        method=record.method,
        route=record.route,
        service=record.service or "",
        api_key=record.api_key or "",
        collection=record.collection_key,
        status_class=record.status_class,
    )


class UsageAggregator:
    """Adds records to a batch until ``drain()`` hands it over; safe to use from several threads.

    Bounded between drains: past ``max_groups`` distinct rows, new ones are counted under the
    collection ``~other``; past ``max_queries`` distinct queries, new queries are not counted.
    """

    def __init__(
        self, query_max_chars: int = 200, max_groups: int = 50_000, max_queries: int = 20_000
    ) -> None:
        self.query_max_chars = query_max_chars
        self.max_groups = max_groups
        self.max_queries = max_queries
        self.dropped_queries = 0
        self._batch = RollupBatch()
        self._lock = threading.Lock()

    def add(self, record: RequestRecord) -> None:
        """Count one request."""
        key = request_key(record)
        bucket = bucket_of(record.duration_ms)
        with self._lock:
            requests = self._batch.requests
            if key not in requests and len(requests) >= self.max_groups:
                key = dataclasses.replace(key, collection=OVERFLOW)
            totals = requests.get(key)
            if totals is None:
                totals = requests[key] = RequestTotals()
            totals.count += 1
            totals.duration_ms_sum += record.duration_ms
            totals.buckets[bucket] = totals.buckets.get(bucket, 0) + 1
            if record.query is not None and record.status < 400:
                self._add_query(record)

    def add_all(self, records: Iterable[RequestRecord]) -> None:
        """Count many requests."""
        for record in records:
            self.add(record)

    def drain(self) -> RollupBatch:
        """The batch so far; the aggregator starts a new one."""
        with self._lock:
            batch, self._batch = self._batch, RollupBatch()
        return batch

    def restore(self, batch: RollupBatch) -> None:
        """Put back a batch that could not be written, to be written with the next one."""
        with self._lock:
            batch.merge(self._batch)
            self._batch = batch

    def _add_query(self, record: RequestRecord) -> None:
        assert record.query is not None
        text = normalise_query(record.query, self.query_max_chars)
        if not text:
            return
        key = QueryKey(day=int(record.ts // DAY_S) * DAY_S, collection=record.collection_key, query=text)
        totals = self._batch.queries.get(key)
        if totals is None:
            if len(self._batch.queries) >= self.max_queries:
                self.dropped_queries += 1
                return
            totals = self._batch.queries[key] = QueryTotals()
        totals.count += 1
        if record.result_count == 0:
            totals.zero_results += 1
