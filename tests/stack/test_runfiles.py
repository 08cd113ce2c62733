"""The run directory: state file, supervisor lock, capped logs, PIDs checked against their start time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ragworks.stack import StackError
from ragworks.stack.runfiles import ProcessRecord, RunDir, StackState, is_alive, process_start, tail_lines


def test_the_state_file_round_trips(run_dir: RunDir) -> None:
    state = StackState(phase="up", api_url="http://127.0.0.1:8000")
    state.processes.append(ProcessRecord("api", "running", pid=42, port=8000, restarts=2))
    run_dir.write_state(state)
    assert run_dir.read_state() == state


def test_no_state_file_means_no_stack_ever_ran(run_dir: RunDir) -> None:
    assert run_dir.read_state() is None


def test_one_supervisor_per_run_dir(run_dir: RunDir) -> None:
    assert run_dir.supervisor_pid() is None
    run_dir.lock_supervisor()
    try:
        assert run_dir.supervisor_pid() == os.getpid()
        with pytest.raises(StackError, match=r"a stack is already running from .*ragworks down"):
            RunDir(run_dir.root).lock_supervisor()
    finally:
        run_dir.unlock_supervisor()
    assert run_dir.supervisor_pid() is None
    assert not run_dir.pid_path("supervisor").exists()


def test_a_stale_supervisor_pid_file_does_not_count(run_dir: RunDir) -> None:
    run_dir.write_pid("supervisor", 999_999)  # left by a supervisor that was killed: no lock held
    assert run_dir.supervisor_pid() is None


def test_a_log_past_its_cap_is_rotated_in_place(run_dir: RunDir) -> None:
    log = run_dir.log_path("api")
    with log.open("ab") as writer:  # as a child holds it: opened once, appending
        for generation in range(4):
            writer.write(f"generation {generation}\n".encode() * 100)
            writer.flush()
            run_dir.cap_log("api", max_bytes=1000, backups=2)
        writer.write(b"after the last rotation\n")
    assert log.read_text() == "after the last rotation\n"  # appends land at the start after truncation
    assert Path(f"{log}.1").read_text().startswith("generation 3")
    assert Path(f"{log}.2").read_text().startswith("generation 2")
    assert not Path(f"{log}.3").exists()


def test_a_small_log_is_left_alone(run_dir: RunDir) -> None:
    run_dir.log_path("api").write_text("short\n")
    run_dir.cap_log("api", max_bytes=1000, backups=2)
    assert run_dir.log_path("api").read_text() == "short\n"


def test_tail_lines(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    path.write_text("".join(f"line {n}\n" for n in range(1000)))
    assert tail_lines(path, 3) == ["line 997", "line 998", "line 999"]
    assert tail_lines(tmp_path / "missing.log", 3) == []


def test_log_names_put_the_supervisor_first(run_dir: RunDir) -> None:
    for name in ("worker-1", "api", "supervisor", "postgres"):
        run_dir.log_path(name).touch()
    assert run_dir.log_names() == ["supervisor", "api", "postgres", "worker-1"]


def test_a_reused_pid_is_not_taken_for_the_process() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        started = process_start(child.pid)
        assert started is not None
        assert is_alive(child.pid, started)
        assert not is_alive(child.pid, started + 1)  # same PID, another process
    finally:
        child.kill()
        child.wait()
    assert not is_alive(child.pid, started)
    assert not is_alive(None)
