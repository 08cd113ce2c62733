"""Usage rollups on a real PostgreSQL: API processes that flush at the same time add, never overwrite."""

from __future__ import annotations

import threading

from ragworks.engines.store.postgres import PostgresDatabase
from ragworks.engines.store.sql_usage import SqlUsageRollups
from ragworks.usage.records import RequestRecord
from ragworks.usage.report import UsageFilter
from ragworks.usage.rollup import RollupBatch, UsageAggregator

HOUR = 1_740_787_200.0  # 2025-03-01T00:00Z


def _batch(requests: int, offset_ms: float) -> RollupBatch:
    """Requests over three services and two hours, half of them searches, some failing."""
    aggregator = UsageAggregator()
    for n in range(requests):
        aggregator.add(
            RequestRecord(
                ts=HOUR + (n % 2) * 3600 + n % 60,
                request_id=f"r{n}",
                method="POST",
                route=f"/v1/services/s{n % 3}",
                status=500 if n % 10 == 0 else 200,
                duration_ms=offset_ms + n % 50,
                service=f"s{n % 3}",
                collections=("docs",),
                query=f"query {n % 7}",
                result_count=n % 4,
            )
        )
    return aggregator.drain()


def test_two_writers_flushing_together_add_their_counts(postgres_url: str) -> None:
    databases = [PostgresDatabase(postgres_url, lock_timeout_s=10.0) for _ in range(2)]
    for db in databases:
        db.start()
    try:
        writers = [SqlUsageRollups(db) for db in databases]
        barrier = threading.Barrier(len(writers))
        errors: list[BaseException] = []

        def flush(writer: SqlUsageRollups) -> None:
            try:
                for _ in range(5):
                    barrier.wait(timeout=30)
                    writer.add(_batch(300, offset_ms=10.0))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=flush, args=(w,)) for w in writers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []

        usage = UsageFilter(HOUR, HOUR + 2 * 3600)
        report = writers[0].report("service", usage)
        assert report.total.requests == 2 * 5 * 300
        assert report.total.errors_5xx == 2 * 5 * 30
        assert {g.key: g.requests for g in report.groups} == {"s0": 1000, "s1": 1000, "s2": 1000}
        by_hour = writers[1].report("hour", usage)
        assert [g.requests for g in by_hour.groups] == [1500, 1500]
        assert report.total.latency_ms.p50 is not None

        queries = writers[0].queries(usage, zero_results=False, limit=10)
        assert sum(q.count for q in queries) == 2 * 5 * 270  # searches that succeeded
        zero = writers[1].queries(usage, zero_results=True, limit=10)
        assert sum(q.zero_results for q in zero) == sum(
            2 * 5 for n in range(300) if n % 10 != 0 and n % 4 == 0
        )
    finally:
        for db in databases:
            db.close()


def test_grouping_by_day_and_route_reads_the_same_on_postgresql(postgres_db: PostgresDatabase) -> None:
    rollups = SqlUsageRollups(postgres_db)
    rollups.add(_batch(120, offset_ms=1.0))
    usage = UsageFilter(HOUR, HOUR + 86_400)
    by_day = rollups.report("day", usage)
    assert [(g.key, g.requests) for g in by_day.groups] == [("2025-03-01", 120)]
    by_route = rollups.report("route", usage)
    assert {g.key for g in by_route.groups} == {f"POST /v1/services/s{i}" for i in range(3)}
