"""The Grafana dashboard and the alert rules query only metrics a real ragworks exports.

A real app (model, index, SQLite, workers) is started and its ``GET /metrics`` scraped; every metric
name in every panel's PromQL and every alert expression must be one of the series it exposes. Stream
metrics come from the stream consumer's own families (``StreamMetrics``), the ones the embedded server
adds to its registry when it runs streams and ``ragworks consume`` serves on its metrics port.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ragworks.app import create_app
from ragworks.config import JobSettings, LLMSettings, Settings
from ragworks.streams.metrics import StreamMetrics

REPO_ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = REPO_ROOT / "deploy" / "grafana" / "ragworks.json"
ALERTS = REPO_ROOT / "deploy" / "prometheus" / "alerts.yml"

# Series every Prometheus has about its targets, not exported by the app.
PROMETHEUS_OWN = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})

_KEYWORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool"}
)
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
    "gauge": ("",),
    "unknown": ("",),
}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, keywords, labels and durations left out)."""
    text = re.sub(r"\$\{[^}]*\}|\$\w+", "", expr)  # Grafana variables ($__rate_interval, ${datasource})
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)  # label values
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # range durations
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)  # label lists
    names = set()
    for match in re.finditer(r"(?<![\w.$])([A-Za-z_:][\w:]*)(\s*\()?", text):
        name, call = match.group(1), match.group(2)
        if not call and name not in _KEYWORDS:
            names.add(name)
    return names


def exported_series(body: str) -> set[str]:
    """The series names an exposition body offers, families without samples included."""
    return {
        family.name + suffix
        for family in text_string_to_metric_families(body)
        for suffix in _SUFFIXES[family.type]
    }


def dashboard_queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, expression) of every target of every panel, rows' nested panels included."""
    found = []
    for panel in dashboard["panels"]:
        for inner in [panel, *panel.get("panels", [])]:
            for target in inner.get("targets", []):
                found.append((inner["title"], target["expr"]))
    return found


def alert_queries() -> list[tuple[str, str]]:
    """(alert name, expression) of every rule in alerts.yml: ``expr:`` on one line or a ``|`` block.

    Read line by line (the file is written in those two shapes) so the tests need no YAML library;
    ``promtool check rules`` (tests/integration/test_prometheus.py) checks the YAML itself.
    """
    found: list[tuple[str, str]] = []
    lines = ALERTS.read_text().splitlines()
    alert = ""
    for n, line in enumerate(lines):
        key, _, value = line.strip().partition(": ")
        if key == "- alert":
            alert = value
        elif key == "expr" and value != "|":
            found.append((alert, value))
        elif key == "expr":
            indent = len(line) - len(line.lstrip())
            block = []
            for follower in lines[n + 1 :]:
                if follower.strip() and len(follower) - len(follower.lstrip()) <= indent:
                    break
                block.append(follower.strip())
            found.append((alert, " ".join(block)))
    return found


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[set[str]]:
    """The series names a started app exports on /metrics, plus the stream consumer's."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("data"),
        log_json=False,
        jobs=JobSettings(poll_interval_s=0.1),
        llm=LLMSettings(provider="extractive"),
    )
    with TestClient(create_app(settings)) as client:
        response = client.get("/metrics")
        assert response.status_code == 200
        body = response.text
    yield exported_series(body) | exported_series(generate_latest(StreamMetrics().registry).decode())


def test_the_dashboard_is_a_grafana_model_with_a_prometheus_datasource_variable() -> None:
    dashboard = json.loads(DASHBOARD.read_text())

    assert dashboard["schemaVersion"] >= 36
    [variable] = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
    assert variable["query"] == "prometheus"
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${" + variable["name"] + "}", panel["title"]
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


def test_the_dashboard_covers_every_area() -> None:
    titles = {p["title"] for p in json.loads(DASHBOARD.read_text())["panels"] if p["type"] == "row"}
    assert titles == {"HTTP", "Services", "Jobs", "Ingest", "Models", "Streams", "Workers"}


def test_every_panel_queries_exported_metrics(exported: set[str]) -> None:
    queries = dashboard_queries(json.loads(DASHBOARD.read_text()))
    assert len(queries) >= 25

    unknown = {(title, name) for title, expr in queries for name in metric_names(expr) - exported}
    assert unknown == set()
    assert all(metric_names(expr) for _, expr in queries)


def test_every_alert_queries_exported_metrics(exported: set[str]) -> None:
    alerts = alert_queries()
    assert len(alerts) == ALERTS.read_text().count("- alert:") >= 10

    unknown = {
        (alert, name) for alert, expr in alerts for name in metric_names(expr) - exported - PROMETHEUS_OWN
    }
    assert unknown == set()


def test_the_name_extraction_skips_functions_labels_and_variables() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket{route!~"a|b"}'
        "[$__rate_interval]))) > 2.5 and on () count(time() - max by (owner) (workers_seen offset 5m)) > 0"
    )
    assert metric_names(expr) == {"http_request_duration_seconds_bucket", "workers_seen"}
