"""The request log's rotation, the recorder's thread, and the rollups' bounds, on real files and SQLite."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from helpers.store import open_database
from ragworks.engines.store.sql_usage import SqlUsageRollups
from ragworks.observability.request_log import RotatingLineFile, log_files, read_lines
from ragworks.usage.context import RequestFacts
from ragworks.usage.histogram import bucket_of, percentile, upper_edge
from ragworks.usage.recorder import FinishedRequest, UsageRecorder
from ragworks.usage.records import RequestRecord
from ragworks.usage.report import UsageFilter
from ragworks.usage.rollup import UsageAggregator

DAY = 1_740_787_200.0  # 2025-03-01T00:00Z


def test_rotation_keeps_the_log_bounded(tmp_path: Path) -> None:
    path = tmp_path / "requests.jsonl"
    writer = RotatingLineFile(path, max_bytes=10_000, backups=3)
    for n in range(200):
        writer.write_lines([json.dumps({"n": n, "pad": "x" * 80})] * 5)
    writer.close()
    files = log_files(path)
    assert [f.name for f in files] == [f"requests.jsonl.{i}" for i in (3, 2, 1)] + ["requests.jsonl"]
    assert all(f.stat().st_size <= 10_000 for f in files)
    numbers = [json.loads(line)["n"] for line in read_lines(path)]
    assert numbers == sorted(numbers) and numbers[-1] == 199  # the newest lines, oldest first


def test_writers_sharing_one_log_lose_no_line(tmp_path: Path) -> None:
    path = tmp_path / "requests.jsonl"

    def write(name: str) -> None:
        writer = RotatingLineFile(path, max_bytes=50_000, backups=100)
        for n in range(300):
            writer.write_lines([json.dumps({"writer": name, "n": n, "pad": "y" * 60})] * 3)
        writer.close()

    threads = [threading.Thread(target=write, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = [json.loads(line) for line in read_lines(path)]
    assert len(lines) == 2 * 300 * 3
    assert len(log_files(path)) > 2


def test_a_percentile_is_the_upper_edge_of_its_bucket() -> None:
    durations = [0.5 * 1.07**n for n in range(200)]
    counts: dict[int, int] = {}
    for d in durations:
        counts[bucket_of(d)] = counts.get(bucket_of(d), 0) + 1
    exact = sorted(durations)[98]  # nearest rank of p50 among 200
    reported = percentile(counts, 0.5)
    assert reported is not None
    assert exact <= reported <= exact * 2 ** (1 / 8) + 1e-3
    assert reported == round(upper_edge(bucket_of(exact)), 3)
    assert percentile({}, 0.5) is None


def _record(n: int, query: str, results: int) -> RequestRecord:
    return RequestRecord(
        ts=DAY + n, request_id=str(n), method="POST", route="/v1/retrieve", status=200, duration_ms=5.0,
        service="retrieve", collections=("docs",), query=query, result_count=results,
    )  # fmt: skip


def test_each_day_keeps_its_top_queries_and_its_top_zero_result_queries(tmp_path: Path) -> None:
    with open_database(tmp_path) as db:
        rollups = SqlUsageRollups(db, top_queries_per_day=3)
        aggregator = UsageAggregator()
        n = 0
        for query, times, results in [("a", 9, 1), ("b", 8, 1), ("c", 7, 1), ("d", 6, 1), ("lost", 2, 0)]:
            for _ in range(times):
                aggregator.add(_record(n, query, results))
                n += 1
        aggregator.add(_record(n, "rare", 1))
        rollups.add(aggregator.drain())
        usage = UsageFilter(DAY, DAY + 86_400)
        assert [q.query for q in rollups.queries(usage, zero_results=False, limit=10)] == [
            "a",
            "b",
            "c",
            "lost",
        ]
        assert [q.query for q in rollups.queries(usage, zero_results=True, limit=10)] == ["lost"]


def test_the_recorder_writes_the_log_and_the_rollups_and_keeps_a_failed_batch(tmp_path: Path) -> None:
    class Unavailable:
        """A database that refuses the first flush (a fake: the failure is what is tested)."""

        def __init__(self, real: SqlUsageRollups) -> None:
            self.real, self.refused = real, False

        def add(self, batch: object) -> None:
            if not self.refused:
                self.refused = True
                raise ConnectionError("down")
            self.real.add(batch)  # type: ignore[arg-type]

    with open_database(tmp_path) as db:
        real = SqlUsageRollups(db)
        log = RotatingLineFile(tmp_path / "requests.jsonl", 1_000_000, 1)
        recorder = UsageRecorder(log, Unavailable(real), flush_interval_s=3600)  # type: ignore[arg-type]
        recorder.start()
        for n in range(10):
            recorder.submit(
                FinishedRequest(
                    DAY + n,
                    f"r{n}",
                    "GET",
                    "/v1/collections/{name}",
                    200,
                    1.5,
                    None,
                    "docs",
                    RequestFacts(api_key="key-1" if n < 4 else None),
                )  # fmt: skip
            )
        assert recorder.flush()  # refused: kept in memory
        assert recorder.flush()  # added now
        recorder.stop()
        report = real.report("api_key", UsageFilter(DAY, DAY + 3600))
        assert {g.key: g.requests for g in report.groups} == {"key-1": 4, None: 6}
        lines = [json.loads(line) for line in read_lines(tmp_path / "requests.jsonl")]
        assert [x["collections"] for x in lines] == [["docs"]] * 10
