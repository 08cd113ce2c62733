"""A real Prometheus scrapes a real ``ragworks serve`` and answers PromQL on its job counters; the
example configuration, the alert rules and their unit tests pass ``promtool``.

Debian's ``prometheus`` package provides both binaries (``make test`` installs it); without them these
tests are skipped, saying so.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers.server import Server

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = REPO_ROOT / "deploy" / "prometheus"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"

needs_prometheus = pytest.mark.skipif(
    not Path(PROMETHEUS).is_file(), reason="prometheus is not installed (Debian package 'prometheus')"
)
needs_promtool = pytest.mark.skipif(
    not Path(PROMTOOL).is_file(), reason="promtool is not installed (Debian package 'prometheus')"
)

DOCUMENTS = [
    {"id": f"doc-{n}", "text": f"Lease number {n} keeps a job with its worker until the lease expires."}
    for n in range(3)
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until(check: Any, what: str, timeout_s: float = 90.0) -> Any:
    """Call ``check`` until it returns something truthy; that value, or an AssertionError at the deadline."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.25)
    raise AssertionError(f"{what} did not happen in {timeout_s} s (last: {last!r})")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """``ragworks serve`` with the extractive LLM (no model download, no generation)."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    running = Server(data_dir, env={"RAGWORKS_LLM__PROVIDER": "extractive"})
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture
def prometheus(tmp_path: Path, server: Server) -> Iterator[str]:
    """A Prometheus scraping ``server`` every second, with the alert rules loaded; its base URL."""
    port = _free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        f"""
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - {DEPLOY / "alerts.yml"}
scrape_configs:
  - job_name: ragworks-serve
    static_configs:
      - targets: ["127.0.0.1:{server.port}"]
"""
    )
    log_path = tmp_path / "prometheus.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            assert process.poll() is None, f"prometheus exited: {log_path.read_text()[-2000:]}"
            try:
                return httpx.get(f"{url}/-/ready", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        _wait_until(ready, "prometheus ready")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _query(prometheus: str, promql: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{prometheus}/api/v1/query", params={"query": promql}, timeout=5)
    body = response.json()
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def _scalar(prometheus: str, promql: str) -> float | None:
    result = _query(prometheus, promql)
    return float(result[0]["value"][1]) if result else None


@needs_prometheus
def test_prometheus_scrapes_ragworks_and_answers_promql_on_job_counters(
    server: Server, prometheus: str
) -> None:
    assert httpx.post(f"{server.url}/v1/collections", json={"name": "ops"}, timeout=10).status_code == 201
    response = httpx.post(
        f"{server.url}/v1/collections/ops/documents", json={"documents": DOCUMENTS}, timeout=30
    )
    assert response.status_code == 202, response.text

    succeeded = 'sum(ragworks_jobs_finished_total{kind="document.ingest",outcome="succeeded"})'
    assert _wait_until(lambda: _scalar(prometheus, succeeded) == len(DOCUMENTS), f"{succeeded} == 3")

    # the gauges read from the database at scrape time agree with the counter
    stored = 'jobs{kind="document.ingest",status="succeeded"}'
    assert _wait_until(lambda: _scalar(prometheus, stored) == len(DOCUMENTS), f"{stored} == 3")
    assert _scalar(prometheus, 'up{job="ragworks-serve"}') == 1
    embedded = _scalar(prometheus, 'sum(ragworks_embedder_texts_total{path="batch"})')
    assert embedded is not None and embedded >= len(DOCUMENTS)
    beats = _query(prometheus, "time() - ragworks_worker_last_seen_timestamp_seconds")
    assert beats and all(float(beat["value"][1]) < 60 for beat in beats)


@needs_prometheus
def test_prometheus_loads_every_alert_rule_and_none_fires_on_a_healthy_server(prometheus: str) -> None:
    def rules() -> list[dict[str, Any]]:
        groups = httpx.get(f"{prometheus}/api/v1/rules", timeout=5).json()["data"]["groups"]
        return [rule for group in groups for rule in group["rules"]]

    expected = (DEPLOY / "alerts.yml").read_text().count("- alert:")

    def healthy() -> list[dict[str, Any]]:
        current = rules()
        return current if len(current) == expected and all(r["health"] == "ok" for r in current) else []

    evaluated = _wait_until(healthy, "every alert rule loaded and evaluated without error")
    assert {rule["name"] for rule in evaluated if rule["state"] == "firing"} == set()


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=60, check=False)


@needs_promtool
def test_alert_rules_pass_promtool_check() -> None:
    result = _promtool("check", "rules", str(DEPLOY / "alerts.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_example_config_passes_promtool_check() -> None:
    result = _promtool("check", "config", str(DEPLOY / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_alert_rules_fire_as_their_unit_tests_expect() -> None:
    result = _promtool("test", "rules", str(DEPLOY / "alerts_test.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
