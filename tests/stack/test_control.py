"""`status`, `down` and `logs` read the run directory: with a supervisor running, stopped, or killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from ragworks.stack import StackError
from ragworks.stack.control import follow_logs, format_table, log_files, stack_status, stop_stack, tail_logs
from ragworks.stack.runfiles import ProcessRecord, RunDir, StackState, is_alive, process_start

Eventually = Callable[..., None]


@pytest.fixture
def stack(
    run_dir: RunDir, eventually: Eventually, supervisor_script: str
) -> Iterator[subprocess.Popen[bytes]]:
    """A background supervisor running from ``run_dir``, up."""
    process = subprocess.Popen([sys.executable, "-c", supervisor_script, str(run_dir.root)])
    try:

        def up() -> bool:
            assert process.poll() is None, "the supervisor exited"
            state = run_dir.read_state()
            return state is not None and state.phase == "up"

        eventually(up, timeout_s=30)
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)


def test_status_of_a_running_stack_is_healthy(run_dir: RunDir, stack: subprocess.Popen[bytes]) -> None:
    status = stack_status(run_dir)
    assert status.healthy
    assert f"up (supervisor pid {stack.pid}" in status.summary
    assert [row[0] for row in status.rows] == ["server", "worker-1"]
    assert all(row[2] == "running" and row[1] != "-" for row in status.rows)


@pytest.mark.usefixtures("stack")
def test_status_sees_a_crashed_process_come_back(run_dir: RunDir, eventually: Eventually) -> None:
    state = run_dir.read_state()
    assert state is not None and state.processes[1].pid is not None
    killed = state.processes[1].pid
    os.kill(killed, signal.SIGKILL)

    def restarted() -> bool:
        rows = stack_status(run_dir).rows
        return rows[1][2] == "running" and rows[1][1] not in ("-", str(killed)) and rows[1][5] == "1"

    eventually(restarted)
    assert stack_status(run_dir).healthy


def test_down_stops_the_supervisor_and_its_processes(run_dir: RunDir, stack: subprocess.Popen[bytes]) -> None:
    state = run_dir.read_state()
    assert state is not None
    pids = [(p.pid, p.pid_start) for p in state.processes]
    said: list[str] = []
    assert stop_stack(run_dir, 5, said.append)
    assert stack.wait(10) == 0
    assert not any(is_alive(pid, started) for pid, started in pids)
    assert said == [f"stopping the stack (supervisor pid {stack.pid}) ..."]
    status = stack_status(run_dir)
    assert not status.healthy
    assert "not running (last phase: stopped)" in status.summary
    assert [row[2] for row in status.rows] == ["stopped", "stopped"]


def test_status_with_no_stack_ever_run(run_dir: RunDir) -> None:
    status = stack_status(run_dir)
    assert not status.healthy and status.rows == []
    assert "no stack has run from" in status.summary and "ragworks up" in status.summary


def test_status_of_a_stopped_stack_lists_its_processes(run_dir: RunDir) -> None:
    state = StackState(
        phase="stopped", processes=[ProcessRecord("postgres", port=5433), ProcessRecord("api")]
    )
    run_dir.write_state(state)
    status = stack_status(run_dir)
    assert not status.healthy
    assert status.rows == [
        ("postgres", "-", "stopped", "5433", "-", "0"),
        ("api", "-", "stopped", "-", "-", "0"),
    ]


def test_down_stops_processes_left_without_a_supervisor(run_dir: RunDir) -> None:
    orphan = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
    record = ProcessRecord("worker-1", "running", pid=orphan.pid, pid_start=process_start(orphan.pid))
    run_dir.write_state(StackState(phase="up", processes=[record]))
    assert stack_status(run_dir).rows[0][2] == "orphaned"
    said: list[str] = []
    assert stop_stack(run_dir, 5, said.append)
    assert orphan.wait(10) == -signal.SIGTERM
    assert said == [f"stopping worker-1 (pid {orphan.pid}), left without a supervisor"]
    assert stack_status(run_dir).rows[0][2] == "stopped"


def test_down_with_nothing_running_says_so(run_dir: RunDir) -> None:
    run_dir.write_state(StackState(phase="stopped", processes=[ProcessRecord("api")]))
    assert not stop_stack(run_dir, 5, lambda _: None)


def test_the_table_is_aligned() -> None:
    table = format_table([("api", "12", "running", "8000", "5s", "0")]).splitlines()
    assert table[0].split() == ["NAME", "PID", "STATE", "PORT", "UPTIME", "RESTARTS"]
    assert table[1].index("running") == table[0].index("STATE")


def test_logs_of_one_process_or_all(run_dir: RunDir) -> None:
    run_dir.log_path("api").write_text("a1\na2\n")
    run_dir.log_path("worker-1").write_text("w1\n")
    assert list(tail_logs(log_files(run_dir, "api"), 1)) == ["a2"]
    assert list(tail_logs(log_files(run_dir, None), 5)) == ["api | a1", "api | a2", "worker-1 | w1"]
    with pytest.raises(StackError, match=r"no process named 'apii' \(logs: api, worker-1\)"):
        log_files(run_dir, "apii")


def test_logs_with_no_stack_say_so(run_dir: RunDir) -> None:
    with pytest.raises(StackError, match="no logs in"):
        log_files(run_dir, None)


def test_following_a_log_survives_its_rotation(run_dir: RunDir) -> None:
    path = run_dir.log_path("api")
    path.write_text("old\n")
    done = threading.Event()
    seen: list[str] = []

    def write() -> None:
        time.sleep(0.2)
        with path.open("a") as log:
            log.write("one\n")
        time.sleep(0.2)
        path.write_text("")  # rotated: truncated in place
        time.sleep(0.2)
        with path.open("a") as log:
            log.write("two\n")
        time.sleep(0.3)
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    seen.extend(follow_logs([("api", path)], done.is_set, poll_s=0.05))
    writer.join()
    assert seen == ["one", "two"]
