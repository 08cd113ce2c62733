"""Usage figures (requests, error rates, latency percentiles, top queries) from rollup rows.

The server reads the rows from the database (grouped in SQL) and ``ragworks usage --log`` from a batch
it aggregated from a log file; both turn them into figures here, so they print the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

from ragworks.usage.histogram import RESOLUTION, percentile
from ragworks.usage.rollup import DAY_S, HOUR_S, QueryKey, QueryTotals, RequestKey, RollupBatch

GroupBy = Literal["service", "route", "collection", "api_key", "hour", "day", "status"]
GROUP_BY_CHOICES: tuple[str, ...] = ("service", "route", "collection", "api_key", "hour", "day", "status")
GroupValue = str | int


@dataclass(frozen=True, slots=True)
class UsageFilter:
    """Which requests a report covers: a time range (epoch seconds, ``end`` exclusive) and dimensions."""

    start: float
    end: float
    service: str | None = None
    route: str | None = None
    collection: str | None = None
    api_key: str | None = None
    # a tenant's view: only requests made with these keys, only queries of these collections
    api_keys: tuple[str, ...] | None = field(default=None, kw_only=True)
    collections: tuple[str, ...] | None = field(default=None, kw_only=True)

    @property
    def first_hour(self) -> int:
        """The first hour bucket in range (rollups are hourly: ``start`` is rounded down)."""
        return int(self.start // HOUR_S) * HOUR_S

    def matches(self, key: RequestKey) -> bool:
        """Whether the rollup row ``key`` is in this report."""
        return (
            self.first_hour <= key.hour < self.end
            and (self.service is None or key.service == self.service)
            and (self.route is None or key.route == self.route)
            and (self.collection is None or key.collection == self.collection)
            and (self.api_key is None or key.api_key == self.api_key)
            and (self.api_keys is None or key.api_key in self.api_keys)
        )


def group_value(key: RequestKey, group_by: GroupBy) -> GroupValue:
    """The raw value ``key`` is grouped under (what the SQL of the database path computes too)."""
    if group_by == "route":
        return f"{key.method} {key.route}"
    if group_by == "day":
        return key.hour - key.hour % DAY_S
    if group_by == "status":
        return key.status_class
    value: GroupValue = getattr(key, group_by)
    return value


class Latency(BaseModel):
    p50: float | None = Field(None, description="Median, in ms (the upper edge of its histogram bucket).")
    p95: float | None = Field(None, description="95th percentile, in ms.")
    p99: float | None = Field(None, description="99th percentile, in ms.")
    mean: float | None = Field(None, description="Mean, in ms (exact).")


class UsageGroup(BaseModel):
    key: str | None = Field(..., description="The group's value; null where the dimension does not apply.")
    requests: int
    errors_4xx: int = Field(..., description="Requests answered 4xx (the client's errors).")
    errors_5xx: int = Field(..., description="Requests answered 5xx (the server's errors).")
    error_rate: float = Field(..., description="(4xx + 5xx) / requests.")
    server_error_rate: float = Field(..., description="5xx / requests.")
    latency_ms: Latency


class UsageReport(BaseModel):
    start: datetime = Field(..., description="First hour counted (from, rounded down to its hour).")
    end: datetime = Field(..., description="End of the range (exclusive).")
    group_by: str
    groups: list[UsageGroup] = Field(..., description="Most requests first (time order for hour and day).")
    total: UsageGroup
    latency_resolution: str = RESOLUTION


class QueryFigures(BaseModel):
    query: str = Field(..., description="Normalised: case-folded, spaces collapsed, cut.")
    collection: str | None
    count: int
    zero_results: int = Field(..., description="Times it found nothing.")


class QueryReport(BaseModel):
    start: datetime
    end: datetime
    zero_results: bool = Field(..., description="Only queries that found nothing, most frequent first.")
    queries: list[QueryFigures]


@dataclass(slots=True)
class GroupTotals:
    """Counts of one group, summed over its rollup rows."""

    requests: int = 0
    errors_4xx: int = 0
    errors_5xx: int = 0
    duration_ms_sum: float = 0.0
    buckets: dict[int, int] = field(default_factory=dict)

    def add_row(self, status_class: str, count: int, duration_ms_sum: float) -> None:
        """Add one ``usage_requests`` row (or its sum over a group and status class)."""
        self.requests += count
        self.duration_ms_sum += duration_ms_sum
        if status_class == "4xx":
            self.errors_4xx += count
        elif status_class == "5xx":
            self.errors_5xx += count

    def add_bucket(self, bucket: int, count: int) -> None:
        """Add one latency bucket's count."""
        self.buckets[bucket] = self.buckets.get(bucket, 0) + count

    def figures(self, key: str | None) -> UsageGroup:
        """The group as reported."""
        n = self.requests
        return UsageGroup(
            key=key,
            requests=n,
            errors_4xx=self.errors_4xx,
            errors_5xx=self.errors_5xx,
            error_rate=round((self.errors_4xx + self.errors_5xx) / n, 6) if n else 0.0,
            server_error_rate=round(self.errors_5xx / n, 6) if n else 0.0,
            latency_ms=Latency(
                p50=percentile(self.buckets, 0.50),
                p95=percentile(self.buckets, 0.95),
                p99=percentile(self.buckets, 0.99),
                mean=round(self.duration_ms_sum / n, 3) if n else None,
            ),
        )


def display_key(value: GroupValue, group_by: GroupBy) -> str | None:
    """How a group's raw value is shown: hours and days in ISO 8601 (UTC), '' as null."""
    if group_by == "hour":
        return datetime.fromtimestamp(int(value), tz=UTC).strftime("%Y-%m-%dT%H:00:00Z")
    if group_by == "day":
        return datetime.fromtimestamp(int(value), tz=UTC).strftime("%Y-%m-%d")
    return str(value) or None


def build_report(groups: dict[GroupValue, GroupTotals], group_by: GroupBy, usage: UsageFilter) -> UsageReport:
    """The report of grouped totals: most requests first, or in time order by hour and day."""
    total = GroupTotals()
    for totals in groups.values():
        total.requests += totals.requests
        total.errors_4xx += totals.errors_4xx
        total.errors_5xx += totals.errors_5xx
        total.duration_ms_sum += totals.duration_ms_sum
        for bucket, count in totals.buckets.items():
            total.add_bucket(bucket, count)
    if group_by in ("hour", "day"):
        order = sorted(groups, key=lambda v: int(v))
    else:
        order = sorted(groups, key=lambda v: (-groups[v].requests, str(v)))
    return UsageReport(
        start=datetime.fromtimestamp(usage.first_hour, tz=UTC),
        end=datetime.fromtimestamp(usage.end, tz=UTC),
        group_by=group_by,
        groups=[groups[v].figures(display_key(v, group_by)) for v in order],
        total=total.figures(None),
    )


def report_from_batch(batch: RollupBatch, group_by: GroupBy, usage: UsageFilter) -> UsageReport:
    """The report of an in-memory batch (what ``ragworks usage --log`` aggregated)."""
    groups: dict[GroupValue, GroupTotals] = {}
    for key, totals in batch.requests.items():
        if not usage.matches(key):
            continue
        group = groups.setdefault(group_value(key, group_by), GroupTotals())
        group.add_row(key.status_class, totals.count, totals.duration_ms_sum)
        for bucket, count in totals.buckets.items():
            group.add_bucket(bucket, count)
    return build_report(groups, group_by, usage)


def rank_queries(
    rows: Iterable[tuple[str, str, int, int]], zero_results: bool, limit: int
) -> list[QueryFigures]:
    """``(collection, query, count, zero_results)`` rows, most frequent first (ties by text); with
    ``zero_results`` only those that found nothing, ranked by how often."""
    ranked = [r for r in rows if r[3] > 0] if zero_results else list(rows)
    ranked.sort(key=lambda r: (-(r[3] if zero_results else r[2]), r[1], r[0]))
    return [
        QueryFigures(query=q, collection=c or None, count=n, zero_results=z) for c, q, n, z in ranked[:limit]
    ]


def queries_from_batch(
    queries: dict[QueryKey, QueryTotals], usage: UsageFilter, zero_results: bool, limit: int
) -> list[QueryFigures]:
    """Top queries of an in-memory batch, summed over the days in range."""
    first_day = int(usage.start // DAY_S) * DAY_S
    summed: dict[tuple[str, str], list[int]] = {}
    for key, totals in queries.items():
        if not (first_day <= key.day < usage.end):
            continue
        if usage.collection is not None and key.collection != usage.collection:
            continue
        if usage.collections is not None and key.collection not in usage.collections:
            continue
        pair = summed.setdefault((key.collection, key.query), [0, 0])
        pair[0] += totals.count
        pair[1] += totals.zero_results
    return rank_queries(((c, q, n, z) for (c, q), (n, z) in summed.items()), zero_results, limit)
