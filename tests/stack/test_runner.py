"""`ragworks up --detach`: a background supervisor whose progress is shown until the stack is up."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ragworks.stack import StackError
from ragworks.stack.config import StackConfig
from ragworks.stack.control import stop_stack
from ragworks.stack.runfiles import RunDir
from ragworks.stack.runner import detached_argv, start_detached


def _config(data_dir: Path) -> StackConfig:
    return StackConfig(settings={"data_dir": str(data_dir)})


def test_a_detached_stack_is_up_when_the_command_returns(tmp_path: Path, supervisor_script: str) -> None:
    run_dir = RunDir(tmp_path / "data" / "run")
    said: list[str] = []
    argv = [sys.executable, "-c", supervisor_script, str(run_dir.root)]
    try:
        url = start_detached(_config(tmp_path / "data"), None, argv, said.append)
        assert url == "http://127.0.0.1:1"
        assert any("worker-1 is ready" in line for line in said)  # the supervisor's progress, shown
        supervisor = run_dir.supervisor_pid()
        assert supervisor is not None
        with pytest.raises(StackError, match=rf"already running .*supervisor pid {supervisor}"):
            start_detached(_config(tmp_path / "data"), None, argv, said.append)
    finally:
        stop_stack(run_dir, 5, lambda _: None)
    assert run_dir.supervisor_pid() is None


def test_a_detached_stack_that_fails_shows_why(tmp_path: Path) -> None:
    said: list[str] = []
    argv = [sys.executable, "-c", "print('error: port 8000 is taken'); raise SystemExit(1)"]
    with pytest.raises(StackError, match=r"the stack did not start \(see .*supervisor\.log\)"):
        start_detached(_config(tmp_path / "data"), None, argv, said.append)
    assert said == ["error: port 8000 is taken"]


def test_the_background_supervisor_gets_the_same_options(tmp_path: Path) -> None:
    argv = detached_argv(tmp_path / "stack.toml", 3, None)
    assert argv[1:] == ["-m", "ragworks", "up", "--config", str(tmp_path / "stack.toml"), "--workers", "3"]
