"""A synthetic but realistic request log, and the figures a report must show, computed from its raw
lines with nothing but ``json`` and sorting (none of the code under test)."""

from __future__ import annotations

import json
import math
import random
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ragworks.observability.request_log import RotatingLineFile

START = datetime(2025, 3, 1, tzinfo=UTC).timestamp()
DAYS = 3
# (method, route, service, median ms, searches): a mix like a real deployment's
ROUTES = [
    ("POST", "/v1/retrieve", "retrieve", 40.0, True),
    ("POST", "/v1/services/retrieve", "retrieve", 45.0, True),
    ("POST", "/v1/services/answer", "answer", 900.0, True),
    ("POST", "/v1/summarize", "summarize", 2500.0, False),
    ("POST", "/v1/embed", "embed", 15.0, False),
    ("POST", "/v1/chat/completions", "openai:chat/completions", 1200.0, False),
    ("GET", "/v1/collections/{name}", None, 3.0, False),
    ("POST", "/v1/collections/{name}/documents", None, 60.0, False),
    ("GET", "/v1/jobs/{job_id}", None, 2.0, False),
]
ROUTE_WEIGHTS = [30, 8, 10, 3, 8, 4, 10, 5, 22]
COLLECTIONS = [("docs",), ("papers",), ("legal",), ("docs", "papers")]
API_KEYS = [None, "key-a", "key-b"]
STATUSES = [200, 200, 200, 200, 200, 200, 200, 200, 200, 404, 422, 429, 500, 503]
WORDS = [
    "tax",
    "refund",
    "vitamin",
    "bone",
    "density",
    "contract",
    "clause",
    "lease",
    "court",
    "appeal",
    "지사",
    "업무",
    "범위",
    "protein",
]


def _queries(rng: random.Random) -> list[tuple[str, bool]]:
    """300 distinct queries (some spelled with varying case and spaces), a tenth of which find nothing."""
    pool = []
    for i in range(300):
        text = " ".join(rng.sample(WORDS, 3)) + f" {i}"
        pool.append((text, i % 10 == 0))
    return pool


def write_log(path: Path, count: int, max_bytes: int, backups: int, seed: int = 13) -> None:
    """Write ``count`` request lines through the server's rotating writer."""
    rng = random.Random(seed)
    pool = _queries(rng)
    weights = [1 / (rank + 1) for rank in range(len(pool))]  # Zipf: a few queries dominate
    writer = RotatingLineFile(path, max_bytes=max_bytes, backups=backups)
    batch: list[str] = []
    for n in range(count):
        method, route, service, median, searches = rng.choices(ROUTES, ROUTE_WEIGHTS)[0]
        status = rng.choice(STATUSES)
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(START + rng.random() * DAYS * 86_400, tz=UTC).isoformat(),
            "request_id": f"r{n}",
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(rng.lognormvariate(math.log(median), 0.8), 3),
            "service": service,
            "collections": list(rng.choice(COLLECTIONS)) if service != "embed" else [],
            "api_key": rng.choice(API_KEYS),
            "query": None,
            "result_count": None,
        }
        if searches:
            text, empty = rng.choices(pool, weights)[0]
            if rng.random() < 0.3:  # the same query as people type it
                text = "  " + text.upper().replace(" ", "   ")
            line["query"] = text
            line["result_count"] = 0 if empty or rng.random() < 0.02 else rng.randint(1, 10)
        batch.append(json.dumps(line, ensure_ascii=False))
        if len(batch) == 5000:
            writer.write_lines(batch)
            batch = []
    writer.write_lines(batch)
    writer.close()


def raw_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of the log and its rotated files, parsed with ``json``."""
    lines = []
    for file in sorted(path.parent.glob(path.name + "*")):
        if file.name == path.name or file.name[len(path.name) + 1 :].isdigit():
            lines += [json.loads(x) for x in file.read_text(encoding="utf-8").splitlines() if x]
    return lines


def _epoch(line: dict[str, Any]) -> float:
    return datetime.fromisoformat(line["ts"]).timestamp()


KEYS: dict[str, Callable[[dict[str, Any]], str | None]] = {
    "service": lambda x: x["service"],
    "route": lambda x: f"{x['method']} {x['route']}",
    "collection": lambda x: ",".join(sorted(x["collections"])) or None,
    "api_key": lambda x: x["api_key"],
    "hour": lambda x: datetime.fromtimestamp(_epoch(x) // 3600 * 3600, tz=UTC).strftime("%Y-%m-%dT%H:00:00Z"),
    "day": lambda x: datetime.fromtimestamp(_epoch(x), tz=UTC).strftime("%Y-%m-%d"),
}


def nearest_rank(sorted_values: list[float], q: float) -> float:
    """The exact nearest-rank quantile."""
    return sorted_values[max(1, math.ceil(q * len(sorted_values))) - 1]


def expected_groups(lines: list[dict[str, Any]], group_by: str) -> dict[str | None, dict[str, Any]]:
    """Per group: requests, 4xx, 5xx, exact mean and exact p50 / p95 / p99 of the durations."""
    grouped: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for line in lines:
        grouped[KEYS[group_by](line)].append(line)
    figures = {}
    for key, members in grouped.items():
        durations = sorted(m["duration_ms"] for m in members)
        figures[key] = {
            "requests": len(members),
            "errors_4xx": sum(400 <= m["status"] < 500 for m in members),
            "errors_5xx": sum(m["status"] >= 500 for m in members),
            "mean": sum(durations) / len(durations),
            "p50": nearest_rank(durations, 0.50),
            "p95": nearest_rank(durations, 0.95),
            "p99": nearest_rank(durations, 0.99),
        }
    return figures


def expected_queries(lines: list[dict[str, Any]], zero_only: bool, limit: int) -> list[tuple[Any, ...]]:
    """(query, collection, count, zero results) of successful searches, normalised, ranked."""
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for line in lines:
        if line["query"] is None or line["status"] >= 400:
            continue
        key = (",".join(sorted(line["collections"])), " ".join(line["query"].casefold().split()))
        counts[key][0] += 1
        counts[key][1] += line["result_count"] == 0
    rows = [(q, c, n, z) for (c, q), (n, z) in counts.items() if z > 0 or not zero_only]
    rows.sort(key=lambda r: (-(r[3] if zero_only else r[2]), r[0], r[1]))
    return [(q, c or None, n, z) for q, c, n, z in rows[:limit]]
