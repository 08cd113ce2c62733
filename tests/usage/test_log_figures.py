"""100,000 logged requests: ``ragworks usage --log`` and the server's rollups (replayed into a real
SQLite store) report exactly the figures computed from the raw lines, percentiles within the
histogram's resolution."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from helpers.cli import ragworks
from helpers.store import open_database
from ragworks.cli.main import app
from ragworks.engines.store.sql_usage import SqlUsageRollups
from ragworks.observability.request_log import log_files, read_lines
from ragworks.usage.records import RequestRecord
from ragworks.usage.report import GroupBy, UsageFilter
from ragworks.usage.rollup import UsageAggregator
from usage.synthetic_log import DAYS, START, expected_groups, expected_queries, raw_lines, write_log

REQUESTS = 100_000
STEP = 2 ** (1 / 8)  # the histogram's bucket ratio: a percentile is at most this much above the exact one
GROUP_BYS = ["service", "route", "collection", "api_key", "hour", "day"]
RANGE = ["--from", str(START), "--to", str(START + DAYS * 86_400)]


@pytest.fixture(scope="module")
def log_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("log") / "requests.jsonl"
    write_log(path, REQUESTS, max_bytes=4 * 1024 * 1024, backups=20)
    return path


@pytest.fixture(scope="module")
def lines(log_path: Path) -> list[dict[str, Any]]:
    return raw_lines(log_path)


@pytest.fixture(scope="module")
def rollups(log_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqlUsageRollups]:
    """The log replayed the way the server rolls requests up: batches of 7,000 records added to a real
    SQLite store (keys repeat across batches, so the UPSERTs must add)."""
    with open_database(tmp_path_factory.mktemp("db")) as db:
        store = SqlUsageRollups(db, top_queries_per_day=1000)
        aggregator = UsageAggregator()
        for n, line in enumerate(read_lines(log_path), 1):
            aggregator.add(RequestRecord.from_line(line))
            if n % 7000 == 0:
                store.add(aggregator.drain())
        store.add(aggregator.drain())
        yield store


@pytest.fixture(scope="module")
def log_reports(log_path: Path) -> dict[str, dict[str, Any]]:
    """``ragworks usage --log --format json`` for each grouping."""
    return {g: _cli("--log", str(log_path), "--group-by", g, *RANGE) for g in GROUP_BYS}


def _cli(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["usage", *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def _check_groups(report: dict[str, Any], expected: dict[str | None, dict[str, Any]]) -> None:
    groups = {g["key"]: g for g in report["groups"]}
    assert set(groups) == set(expected)
    for key, want in expected.items():
        got = groups[key]
        assert (got["requests"], got["errors_4xx"], got["errors_5xx"]) == (
            want["requests"],
            want["errors_4xx"],
            want["errors_5xx"],
        ), key
        errors = want["errors_4xx"] + want["errors_5xx"]
        assert got["error_rate"] == pytest.approx(errors / want["requests"], abs=1e-6)
        assert got["server_error_rate"] == pytest.approx(want["errors_5xx"] / want["requests"], abs=1e-6)
        assert got["latency_ms"]["mean"] == pytest.approx(want["mean"], abs=1e-3)
        for q in ("p50", "p95", "p99"):
            exact, reported = want[q], got["latency_ms"][q]
            assert exact - 5e-4 <= reported <= exact * STEP + 5e-4, (key, q, exact, reported)


def test_the_log_was_rotated_and_every_line_is_read(log_path: Path, lines: list[dict[str, Any]]) -> None:
    assert len(log_files(log_path)) > 3
    assert len(lines) == REQUESTS


@pytest.mark.parametrize("group_by", GROUP_BYS)
def test_the_log_report_matches_the_raw_lines(
    group_by: str, lines: list[dict[str, Any]], log_reports: dict[str, dict[str, Any]]
) -> None:
    report = log_reports[group_by]
    _check_groups(report, expected_groups(lines, group_by))
    assert report["total"]["requests"] == REQUESTS


@pytest.mark.parametrize("group_by", GROUP_BYS)
def test_the_rollups_report_the_same_figures(
    group_by: GroupBy,
    lines: list[dict[str, Any]],
    rollups: SqlUsageRollups,
    log_reports: dict[str, dict[str, Any]],
) -> None:
    stored = rollups.report(group_by, UsageFilter(START, START + DAYS * 86_400)).model_dump(mode="json")
    _check_groups(stored, expected_groups(lines, group_by))
    assert stored == log_reports[group_by]


def test_a_filter_and_a_shorter_range(lines: list[dict[str, Any]], rollups: SqlUsageRollups) -> None:
    day_two = START + 86_400
    report = rollups.report("api_key", UsageFilter(day_two, day_two + 86_400, service="retrieve"))
    wanted = [x for x in lines if x["service"] == "retrieve" and x["ts"].startswith("2025-03-02")]
    _check_groups(report.model_dump(mode="json"), expected_groups(wanted, "api_key"))


@pytest.mark.parametrize("zero_results", [False, True])
def test_top_and_zero_result_queries_match_the_raw_lines(
    zero_results: bool, log_path: Path, lines: list[dict[str, Any]], rollups: SqlUsageRollups
) -> None:
    expected = expected_queries(lines, zero_only=zero_results, limit=25)
    assert len(expected) == 25
    flags = ["--zero-results"] if zero_results else ["--queries"]
    from_log = _cli("--log", str(log_path), *flags, "--limit", "25", *RANGE)["queries"]
    assert [(q["query"], q["collection"], q["count"], q["zero_results"]) for q in from_log] == expected
    stored = rollups.queries(UsageFilter(START, START + DAYS * 86_400), zero_results, 25)
    assert [q.model_dump() for q in stored] == from_log


def test_the_command_prints_a_table_and_csv(log_path: Path) -> None:
    table = ragworks("usage", "--log", str(log_path), "--group-by", "service", *RANGE)
    assert table.returncode == 0, table.stderr
    assert "retrieve" in table.stdout and "p99" in table.stdout
    result = CliRunner().invoke(app, ["usage", "--log", str(log_path), "--format", "csv", *RANGE])
    rows = result.stdout.splitlines()
    assert rows[0] == "service,requests,errors_4xx,errors_5xx,error_rate,p50_ms,p95_ms,p99_ms,mean_ms"
    assert rows[-1].startswith(f"total,{REQUESTS},")
