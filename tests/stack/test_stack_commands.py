"""The `ragworks up | status | down | logs | worker` commands, run through the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragworks.cli.main import app
from ragworks.stack.runfiles import ProcessRecord, RunDir, StackState


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A stack file whose data dir is in the test's folder."""
    path = tmp_path / "stack.toml"
    path.write_text(f'[settings]\ndata_dir = "{tmp_path / "data"}"\n')
    return path


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_status_before_any_stack_ran(config: Path) -> None:
    code, output = _invoke("status", "--config", str(config))
    assert code == 1
    assert "no stack has run from" in output and "ragworks up" in output


def test_status_of_a_stopped_stack_prints_the_table_and_fails(config: Path, tmp_path: Path) -> None:
    run_dir = RunDir(tmp_path / "data" / "run")
    run_dir.ensure()
    processes = [ProcessRecord("postgres", port=5433, restarts=1), ProcessRecord("api", port=8000)]
    run_dir.write_state(StackState(phase="stopped", processes=processes))
    code, output = _invoke("status", "--config", str(config))
    assert code == 1
    lines = output.splitlines()
    assert "not running (last phase: stopped)" in lines[0]
    assert lines[1].split() == ["NAME", "PID", "STATE", "PORT", "UPTIME", "RESTARTS"]
    assert lines[2].split() == ["postgres", "-", "stopped", "5433", "-", "1"]
    assert lines[3].split() == ["api", "-", "stopped", "8000", "-", "0"]


def test_the_config_can_come_from_the_environment(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGWORKS_STACK_CONFIG", str(config))
    code, output = _invoke("status")
    assert code == 1 and str(config.parent / "data") in output


def test_a_bad_config_key_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[stack]\nworkres = 2\n")
    code, output = _invoke("up", "--config", str(bad))
    assert code == 1
    assert "error: " in output and "stack.workres: unknown key (known: workers" in output


def test_down_with_nothing_running(config: Path) -> None:
    code, output = _invoke("down", "--config", str(config))
    assert code == 0
    assert "no stack is running from" in output


def test_logs_of_an_unknown_process(config: Path, tmp_path: Path) -> None:
    run_dir = RunDir(tmp_path / "data" / "run")
    run_dir.ensure()
    run_dir.log_path("api").write_text("Application startup complete.\n")
    code, output = _invoke("logs", "apx", "--config", str(config))
    assert code == 1 and "no process named 'apx' (logs: api)" in output
    code, output = _invoke("logs", "api", "-n", "5", "--config", str(config))
    assert code == 0 and output == "Application startup complete.\n"


def test_worker_refuses_engines_of_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGWORKS_DATA_DIR", str(tmp_path))
    code, output = _invoke("worker", "--concurrency", "2")
    assert code == 2
    assert "the worker role runs beside other processes: store.url must name a shared database" in output
