"""`ragworks up --workers 2` on a fresh data dir: PostgreSQL, the API and two workers ingest and search,
a killed worker comes back, and `ragworks down` stops it all."""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from helpers.cli import ragworks
from ragworks.engines.index.providers import PROVIDERS
from ragworks.stack.probes import free_port
from ragworks.stack.runfiles import RunDir, is_alive

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        "postgres" not in PROVIDERS, reason="the PostgreSQL index provider is not registered yet"
    ),
]

DOCUMENTS = [
    {"id": "tides", "text": "The moon's gravity raises ocean tides twice a day."},
    {"id": "bread", "text": "Sourdough bread rises slowly with wild yeast and lactic bacteria."},
    {"id": "volcano", "text": "Magma reaches the surface when a volcano erupts, then cools into basalt."},
]


@pytest.fixture
def config() -> Iterator[Path]:
    """A stack file over a fresh data dir (reachable by PostgreSQL's account when tests run as root)."""
    root = Path(tempfile.mkdtemp(prefix="ragworks-stack-"))
    root.chmod(0o755)
    path = root / "ragworks.toml"
    path.write_text(
        f"""
[stack]
ready_timeout_s = 300
stop_timeout_s = 20
restart_delay_s = 0.5

[settings]
data_dir = "{root / "data"}"
log_level = "INFO"
[settings.server]
port = {free_port()}
[settings.llm]
provider = "extractive"
[settings.jobs]
poll_interval_s = 0.2
# the scaled API asks for keys by default; these tests are about the stack (tests/auth: keys)
[settings.auth]
enabled = false
"""
    )
    yield path
    ragworks("down", "--config", str(path), timeout=300)
    shutil.rmtree(root, ignore_errors=True)


def _status(config: Path) -> tuple[int, dict[str, list[str]]]:
    done = ragworks("status", "--config", str(config))
    lines = done.stdout.splitlines()
    table = lines[next(i for i, line in enumerate(lines) if line.startswith("NAME")) + 1 :]
    return done.returncode, {line.split()[0]: line.split() for line in table}


def _wait(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_up_ingests_and_searches_then_down_stops_everything(config: Path) -> None:
    up = ragworks("up", "--workers", "2", "--detach", "--config", str(config), timeout=600)
    assert up.returncode == 0, up.stdout + up.stderr
    url = up.stdout.split("stack is up: API ")[1].split()[0]

    code, rows = _status(config)
    assert code == 0, rows
    assert [rows[n][2] for n in ("postgres", "api", "worker-1", "worker-2")] == ["running"] * 4

    with httpx.Client(base_url=url, timeout=30) as client:
        client.post("/v1/collections", json={"name": "stack"}).raise_for_status()
        accepted = client.post("/v1/collections/stack/documents", json={"documents": DOCUMENTS})
        assert accepted.status_code == 202, accepted.text

        def all_ready() -> bool:
            statuses = [
                client.get(f"/v1/collections/stack/documents/{d['id']}").json()["status"] for d in DOCUMENTS
            ]
            assert "failed" not in statuses, statuses
            return statuses == ["ready"] * len(DOCUMENTS)

        _wait(all_ready, 300, "the documents to be ready")
        found = client.post("/v1/retrieve", json={"query": "why do tides happen", "collections": ["stack"]})
        assert found.status_code == 200, found.text
        assert found.json()["results"][0]["document_id"] == "tides"

    killed = int(rows["worker-1"][1])
    os.kill(killed, signal.SIGKILL)
    _wait(lambda: (r := _status(config)[1]["worker-1"])[2] == "running" and r[5] == "1", 300, "worker-1 back")

    state = RunDir(config.parent / "data" / "run").read_state()
    assert state is not None
    pids = [(p.pid, p.pid_start) for p in state.processes]
    down = ragworks("down", "--config", str(config), timeout=300)
    assert down.returncode == 0, down.stdout + down.stderr
    assert "stack stopped" in down.stdout
    assert not any(is_alive(pid, started) for pid, started in pids)
    code, rows = _status(config)
    assert code == 1 and {row[2] for row in rows.values()} == {"stopped"}
    log = (config.parent / "data" / "run" / "postgres.log").read_text()
    assert "database system is shut down" in log
    assert json.loads((config.parent / "data" / "run" / "state.json").read_text())["phase"] == "stopped"
