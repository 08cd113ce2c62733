"""``ragworks usage``: usage figures from a running server's rollups, or offline from a request log.

Both paths turn rollups into figures with the same code (``ragworks.usage.report``), so a log read here
and the server's rollups of the same requests print the same numbers.
"""

from __future__ import annotations

import csv
import io
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from ragworks.cli.client_commands import DEFAULT_URL, UrlOption, _check, _client, console
from ragworks.observability.request_log import log_files, read_lines
from ragworks.usage.records import RequestRecord
from ragworks.usage.report import (
    GROUP_BY_CHOICES,
    GroupBy,
    QueryReport,
    UsageFilter,
    UsageReport,
    queries_from_batch,
    report_from_batch,
)
from ragworks.usage.rollup import UsageAggregator

Format = Literal["table", "csv", "json"]
GROUP_COLUMNS = [
    "requests",
    "errors_4xx",
    "errors_5xx",
    "error_rate",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "mean_ms",
]
DEFAULT_RANGE_S = 86_400.0


@dataclass(frozen=True, slots=True)
class _Asked:
    """What the command was asked for."""

    start: str | None
    end: str | None
    group_by: GroupBy
    filters: dict[str, str]
    queries: bool
    zero_results: bool
    limit: int


def _epoch(value: str) -> float:
    """ISO 8601 (UTC when no zone is given) or epoch seconds."""
    try:
        return float(value)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"{value!r} is neither ISO 8601 nor epoch seconds") from None
    return (parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)).timestamp()


def usage(
    start: Annotated[
        str | None, typer.Option("--from", help="Start: ISO 8601 or epoch seconds (UTC).")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="End, exclusive; default: now.")] = None,
    group_by: Annotated[
        str, typer.Option("--group-by", help=f"One of {', '.join(GROUP_BY_CHOICES)}.")
    ] = "service",
    output: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
    service: Annotated[str | None, typer.Option(help="Only this service.")] = None,
    route: Annotated[str | None, typer.Option(help="Only this route template.")] = None,
    collection: Annotated[str | None, typer.Option(help="Only this collection (several: a,b).")] = None,
    api_key: Annotated[str | None, typer.Option(help="Only this API key id.")] = None,
    queries: Annotated[bool, typer.Option("--queries", help="Top queries instead of requests.")] = False,
    zero_results: Annotated[
        bool, typer.Option("--zero-results", help="Top queries that found nothing.")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Queries listed.")] = 50,
    log: Annotated[
        Path | None, typer.Option("--log", help="Read this request log (and its rotated files) instead.")
    ] = None,
    query_max_chars: Annotated[int, typer.Option(help="With --log: query length kept.")] = 200,
    url: UrlOption = DEFAULT_URL,
) -> None:
    """Requests, error rates and latency p50/p95/p99 by service, route, collection, API key, hour or
    day; or the top and zero-result queries. Default range: the last 24 hours (with --log: the log's)."""
    if group_by not in GROUP_BY_CHOICES:
        raise typer.BadParameter(f"--group-by must be one of {', '.join(GROUP_BY_CHOICES)}")
    if output not in ("table", "csv", "json"):
        raise typer.BadParameter("--format must be table, csv or json")
    grouping: GroupBy = group_by  # type: ignore[assignment]
    fmt: Format = output  # type: ignore[assignment]
    filters = {"service": service, "route": route, "collection": collection, "api_key": api_key}
    asked = _Asked(
        start,
        end,
        grouping,
        {k: v for k, v in filters.items() if v is not None},
        queries or zero_results,
        zero_results,
        limit,
    )
    result = _from_log(log, asked, query_max_chars) if log is not None else _from_server(url, asked)
    _print(result, fmt)


def _from_server(url: str, asked: _Asked) -> UsageReport | QueryReport:
    end_s = _epoch(asked.end) if asked.end is not None else time.time()
    start_s = _epoch(asked.start) if asked.start is not None else end_s - DEFAULT_RANGE_S
    params: dict[str, str | int | float] = {"from": start_s, "to": end_s}
    with _client(url, 60) as client:
        if asked.queries:
            params |= {"zero_results": str(asked.zero_results).lower(), "limit": asked.limit}
            if "collection" in asked.filters:
                params["collection"] = asked.filters["collection"]
            return QueryReport.model_validate(_check(client.get("/v1/usage/queries", params=params)))
        params |= {"group_by": asked.group_by, **asked.filters}
        return UsageReport.model_validate(_check(client.get("/v1/usage", params=params)))


def _from_log(log: Path, asked: _Asked, query_max_chars: int) -> UsageReport | QueryReport:
    if not log_files(log):
        console.print(f"[red]no request log at {log}[/red]")
        raise typer.Exit(1)
    # no caps: an offline report reads the whole log into one batch
    aggregator = UsageAggregator(query_max_chars=query_max_chars, max_groups=2**62, max_queries=2**62)
    first, last, skipped = float("inf"), 0.0, 0
    for line in read_lines(log):
        try:
            record = RequestRecord.from_line(line)
        except (ValueError, KeyError, TypeError):
            skipped += 1
            continue
        first, last = min(first, record.ts), max(last, record.ts)
        aggregator.add(record)
    if skipped:
        print(f"skipped {skipped} lines that are not request records", file=sys.stderr)
    start_s = _epoch(asked.start) if asked.start is not None else (first if first <= last else 0.0)
    end_s = _epoch(asked.end) if asked.end is not None else last + 1
    usage = UsageFilter(
        start_s,
        end_s,
        service=asked.filters.get("service"),
        route=asked.filters.get("route"),
        collection=asked.filters.get("collection"),
        api_key=asked.filters.get("api_key"),
    )
    batch = aggregator.drain()
    if asked.queries:
        return QueryReport(
            start=datetime.fromtimestamp(start_s, tz=UTC),
            end=datetime.fromtimestamp(end_s, tz=UTC),
            zero_results=asked.zero_results,
            queries=queries_from_batch(batch.queries, usage, asked.zero_results, asked.limit),
        )
    return report_from_batch(batch, asked.group_by, usage)


def _print(result: UsageReport | QueryReport, fmt: Format) -> None:
    if fmt == "json":
        typer.echo(result.model_dump_json(indent=2))
        return
    header, rows = _rows(result)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        typer.echo(buffer.getvalue(), nl=False)
        return
    table = Table(*header)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    # piped, rich would squeeze the table into 80 columns and cut the numbers
    (console if console.is_terminal else Console(width=200)).print(table)


def _rows(result: BaseModel) -> tuple[list[str], list[list[object]]]:
    if isinstance(result, QueryReport):
        header = ["query", "collection", "count", "zero_results"]
        return header, [[q.query, q.collection, q.count, q.zero_results] for q in result.queries]
    assert isinstance(result, UsageReport)
    header = [result.group_by, *GROUP_COLUMNS]
    rows: list[list[object]] = [
        [
            g.key if g.key is not None else "-",
            g.requests,
            g.errors_4xx,
            g.errors_5xx,
            g.error_rate,
            g.latency_ms.p50,
            g.latency_ms.p95,
            g.latency_ms.p99,
            g.latency_ms.mean,
        ]
        for g in [*result.groups, result.total.model_copy(update={"key": "total"})]
    ]
    return header, rows
