"""Usage rollups on SQLAlchemy Core (SQLite and PostgreSQL): UPSERTs that add, reports grouped in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, and_, bindparam, delete, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite

from ragworks.engines.store.schema import usage_latency, usage_queries, usage_requests
from ragworks.engines.store.sql import SqlDatabase
from ragworks.usage.report import (
    GroupBy,
    GroupTotals,
    GroupValue,
    QueryFigures,
    UsageFilter,
    UsageReport,
    build_report,
    rank_queries,
)
from ragworks.usage.rollup import DAY_S, RollupBatch

_DIMENSIONS = ("hour", "method", "route", "service", "api_key", "collection", "status_class")


class SqlUsageRollups:
    """Usage rollups in the store's database (see ``UsageRollups`` for the contract)."""

    def __init__(self, db: SqlDatabase, top_queries_per_day: int = 1000) -> None:
        self.db = db
        self.top_queries_per_day = top_queries_per_day

    def add(self, batch: RollupBatch) -> None:
        """Add ``batch`` in one transaction; rows in key order, so concurrent writers never deadlock."""
        if not batch:
            return
        requests, latency, queries = [], [], []
        for key in sorted(batch.requests):
            totals = batch.requests[key]
            dims = {name: getattr(key, name) for name in _DIMENSIONS}
            requests.append({**dims, "count": totals.count, "duration_ms_sum": totals.duration_ms_sum})
            latency += [{**dims, "bucket": b, "count": n} for b, n in sorted(totals.buckets.items())]
        for qkey in sorted(batch.queries):
            qtotals = batch.queries[qkey]
            queries.append(
                {
                    "day": qkey.day,
                    "collection": qkey.collection,
                    "query": qkey.query,
                    "count": qtotals.count,
                    "zero_results": qtotals.zero_results,
                }
            )
        with self.db.writer.begin() as conn:
            self._upsert(conn, usage_requests, requests, ("count", "duration_ms_sum"))
            self._upsert(conn, usage_latency, latency, ("count",))
            self._upsert(conn, usage_queries, queries, ("count", "zero_results"))
            for day in sorted({key.day for key in batch.queries}):
                self._prune_queries(conn, day)

    def report(self, group_by: GroupBy, usage: UsageFilter) -> UsageReport:
        """Requests and latency grouped in SQL, turned into figures by ``build_report``."""
        groups: dict[GroupValue, GroupTotals] = {}
        r, lat = usage_requests.c, usage_latency.c
        with self.db.reader.connect() as conn:
            group = _group_column(usage_requests, group_by)
            rows = conn.execute(
                select(group, r.status_class, func.sum(r.count), func.sum(r.duration_ms_sum))
                .where(*_conditions(usage_requests, usage))
                .group_by(group, r.status_class)
            )
            for value, status_class, count, duration in rows:
                groups.setdefault(_raw(value), GroupTotals()).add_row(
                    status_class, int(count), float(duration)
                )
            group = _group_column(usage_latency, group_by)
            buckets = conn.execute(
                select(group, lat.bucket, func.sum(lat.count))
                .where(*_conditions(usage_latency, usage))
                .group_by(group, lat.bucket)
            )
            for value, bucket, count in buckets:
                groups.setdefault(_raw(value), GroupTotals()).add_bucket(int(bucket), int(count))
        return build_report(groups, group_by, usage)

    def queries(self, usage: UsageFilter, zero_results: bool, limit: int) -> list[QueryFigures]:
        """Top queries summed over the days in range."""
        q = usage_queries.c
        count, zeros = func.sum(q.count), func.sum(q.zero_results)
        first_day = int(usage.start // DAY_S) * DAY_S
        statement = (
            select(q.collection, q.query, count, zeros)
            .where(q.day >= first_day, q.day < usage.end)
            .group_by(q.collection, q.query)
            .order_by((zeros if zero_results else count).desc(), q.query, q.collection)
            .limit(limit)
        )
        if usage.collection is not None:
            statement = statement.where(q.collection == usage.collection)
        if usage.collections is not None:
            statement = statement.where(q.collection.in_(usage.collections))
        if zero_results:
            statement = statement.having(zeros > 0)
        with self.db.reader.connect() as conn:
            rows = [(c, text, int(n), int(z)) for c, text, n, z in conn.execute(statement)]
        return rank_queries(rows, zero_results, limit)

    def _upsert(
        self, conn: Connection, table: Table, rows: Sequence[dict[str, Any]], added: Sequence[str]
    ) -> None:
        if not rows:
            return
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(table)
        keys = [c.name for c in table.primary_key.columns]
        statement = statement.on_conflict_do_update(
            index_elements=keys,
            set_={name: table.c[name] + getattr(statement.excluded, name) for name in added},
        )
        conn.execute(statement, list(rows))

    def _prune_queries(self, conn: Connection, day: int) -> None:
        """Keep the day's top N queries by count and top N by zero results; delete the rest."""
        q = usage_queries.c
        n = self.top_queries_per_day
        stored = conn.execute(select(func.count()).where(q.day == day)).scalar_one()
        if stored <= n:
            return
        rows = conn.execute(select(q.collection, q.query, q.count, q.zero_results).where(q.day == day)).all()
        keep = {(c, t) for c, t, _, _ in sorted(rows, key=lambda r: (-r[2], r[1], r[0]))[:n]}
        zero = sorted((r for r in rows if r[3] > 0), key=lambda r: (-r[3], r[1], r[0]))[:n]
        keep |= {(c, t) for c, t, _, _ in zero}
        doomed = [{"c": c, "t": t} for c, t, _, _ in rows if (c, t) not in keep]
        if doomed:
            conn.execute(
                delete(usage_queries).where(
                    q.day == day, q.collection == bindparam("c"), q.query == bindparam("t")
                ),
                doomed,
            )


def _group_column(table: Table, group_by: GroupBy) -> ColumnElement[Any]:
    c = table.c
    if group_by == "route":
        return c.method.concat(literal(" ")).concat(c.route)
    if group_by == "day":
        return c.hour - c.hour % DAY_S
    if group_by == "status":
        return c.status_class
    column: ColumnElement[Any] = c[group_by]
    return column


def _conditions(table: Table, usage: UsageFilter) -> list[ColumnElement[bool]]:
    c = table.c
    conditions = [c.hour >= usage.first_hour, c.hour < usage.end]
    for name in ("service", "route", "collection", "api_key"):
        value = getattr(usage, name)
        if value is not None:
            conditions.append(c[name] == value)
    if usage.api_keys is not None:
        conditions.append(c.api_key.in_(usage.api_keys))
    return [and_(*conditions)]


def _raw(value: Any) -> GroupValue:
    """A group value as the in-memory path has it (PostgreSQL sums and differences come back as Decimal)."""
    return value if isinstance(value, str) else int(value)
