"""The supervisor with real child processes: start in tiers, restart after a crash, stop in reverse."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ragworks.stack import StackError
from ragworks.stack.process import ProcessSpec
from ragworks.stack.runfiles import RunDir, is_alive, process_start
from ragworks.stack.supervisor import Supervisor, SupervisorOptions

Build = Callable[..., Supervisor]
Python = Callable[..., object]
Eventually = Callable[..., None]

# Writes its name to a journal when it gets SIGTERM, then exits.
JOURNAL_ON_SIGTERM = """
import signal, sys, time
def bye(*_):
    open(sys.argv[2], 'a').write(sys.argv[1] + '\\n'); time.sleep(0.2); sys.exit(0)
signal.signal(signal.SIGTERM, bye)
print('started', flush=True)
time.sleep(120)
"""


def _pid(supervisor: Supervisor, name: str) -> int:
    record = next(c.record for c in supervisor.children if c.spec.name == name)
    assert record.pid is not None
    return record.pid


def test_start_writes_pid_files_logs_and_state(
    supervise: Build, python: Python, eventually: Eventually, run_dir: RunDir
) -> None:
    supervisor = supervise(python("db"), python("api", tier=1), python("worker-1", tier=2))
    supervisor.start()
    for name in ("db", "api", "worker-1"):
        assert int(run_dir.pid_path(name).read_text()) == _pid(supervisor, name)
        eventually(lambda n=name: "started" in run_dir.log_path(n).read_text().splitlines())
    state = run_dir.read_state()
    assert state is not None and state.phase == "up" and state.supervisor_pid == os.getpid()
    assert [(p.name, p.state) for p in state.processes] == [
        ("db", "running"),
        ("api", "running"),
        ("worker-1", "running"),
    ]


def test_a_tier_starts_once_the_tier_before_is_ready(
    supervise: Build, python: Python, tmp_path: Path
) -> None:
    flag = tmp_path / "db-ready"
    slow_db = "import pathlib, sys, time; time.sleep(0.5); pathlib.Path(sys.argv[1]).touch(); time.sleep(120)"
    supervisor = supervise(python("db", slow_db, str(flag), ready=flag.exists), python("api", tier=1))
    supervisor.start()
    api = supervisor.children[1].record
    assert api.started_at is not None and flag.stat().st_mtime <= api.started_at


def test_a_killed_child_is_restarted_and_counted(
    supervise: Build, python: Python, eventually: Eventually, run_dir: RunDir
) -> None:
    supervisor = supervise(python("worker-1"))
    supervisor.start()
    eventually(lambda: "started" in run_dir.log_path("worker-1").read_text().splitlines())
    first = _pid(supervisor, "worker-1")
    os.kill(first, signal.SIGKILL)
    record = supervisor.children[0].record
    eventually(lambda: record.state == "running" and record.pid not in (None, first), tick=supervisor.tick)
    assert record.restarts == 1
    assert record.last_exit == "killed by SIGKILL"
    assert int(run_dir.pid_path("worker-1").read_text()) == record.pid
    eventually(lambda: run_dir.log_path("worker-1").read_text().splitlines().count("started") == 2)
    state = run_dir.read_state()
    assert state is not None and state.processes[0].restarts == 1


def test_restarts_back_off_exponentially(supervise: Build, eventually: Eventually) -> None:
    options = SupervisorOptions(restart_delay_s=0.1, restart_delay_max_s=0.8, poll_s=0.02)
    supervisor = supervise(ProcessSpec("flaky", ["/bin/sh", "-c", "sleep 0.05; exit 3"]), options=options)
    supervisor.start()
    child = supervisor.children[0]
    delays = []
    for _ in range(5):
        eventually(lambda: child.restart_at is not None, tick=supervisor.tick)
        delays.append(child.delay)
        eventually(lambda: child.restart_at is None, tick=supervisor.tick)
    assert delays == [0.1, 0.2, 0.4, 0.8, 0.8]
    assert child.record.last_exit == "exit code 3"
    assert child.record.restarts == 5


def test_stop_goes_in_reverse_tier_order(
    supervise: Build, python: Python, eventually: Eventually, run_dir: RunDir, tmp_path: Path
) -> None:
    journal = str(tmp_path / "journal")
    tiers = {"db": 0, "api": 1, "w1": 2, "w2": 2}
    supervisor = supervise(*(python(n, JOURNAL_ON_SIGTERM, n, journal, tier=t) for n, t in tiers.items()))
    supervisor.start()
    eventually(lambda: all("started" in run_dir.log_path(n).read_text().splitlines() for n in tiers))
    supervisor.stop()
    order = Path(journal).read_text().split()
    assert sorted(order[:2]) == ["w1", "w2"] and order[2:] == ["api", "db"]
    assert all(c.record.state == "stopped" and c.process is None for c in supervisor.children)
    assert not any(run_dir.pid_path(n).exists() for n in tiers)


def test_stop_kills_a_child_that_ignores_sigterm(
    supervise: Build, python: Python, eventually: Eventually, run_dir: RunDir
) -> None:
    stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('started', flush=True); time.sleep(120)"
    supervisor = supervise(python("stubborn", stubborn), options=SupervisorOptions(stop_timeout_s=0.5))
    supervisor.start()
    pid = _pid(supervisor, "stubborn")
    eventually(lambda: "started" in run_dir.log_path("stubborn").read_text().splitlines())
    began = time.monotonic()
    supervisor.stop()
    assert time.monotonic() - began < 3
    assert not is_alive(pid)


def test_a_crash_takes_the_childs_own_children_with_it(
    supervise: Build, python: Python, eventually: Eventually, tmp_path: Path
) -> None:
    noted = tmp_path / "grandchild.pid"
    parent = (
        "import subprocess, sys, time\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        "open(sys.argv[1], 'w').write(str(p.pid))\n"
        "time.sleep(120)\n"
    )
    ready = lambda: noted.exists() and noted.read_text() != ""  # noqa: E731
    supervisor = supervise(python("api", parent, str(noted), ready=ready))
    supervisor.start()
    grandchild = int(noted.read_text())
    assert is_alive(grandchild)
    os.kill(_pid(supervisor, "api"), signal.SIGKILL)
    eventually(lambda: supervisor.children[0].record.state == "backoff", tick=supervisor.tick)
    eventually(lambda: not is_alive(grandchild))


def test_a_child_exiting_while_starting_fails_start_with_its_log(
    supervise: Build, python: Python, run_dir: RunDir
) -> None:
    broken = "import sys; print('cannot open the database: connection refused', flush=True); sys.exit(2)"
    supervisor = supervise(python("db"), python("api", broken, tier=1, ready=lambda: False))
    with pytest.raises(StackError) as caught:
        supervisor.start()
    message = str(caught.value)
    assert "api exited while starting (exit code 2)" in message
    assert "cannot open the database: connection refused" in message
    assert all(c.process is None for c in supervisor.children)  # the db was stopped again
    state = run_dir.read_state()
    assert state is not None and state.phase == "failed" and "api exited" in (state.error or "")


def test_a_child_never_ready_fails_start_after_the_timeout(supervise: Build, python: Python) -> None:
    options = SupervisorOptions(ready_timeout_s=0.5, poll_s=0.02)
    supervisor = supervise(python("api", ready=lambda: False), options=options)
    with pytest.raises(StackError, match=r"api not ready after 0 s; the last lines of .*api\.log"):
        supervisor.start()


def test_a_taken_port_stops_start_before_anything_runs(
    supervise: Build, python: Python, run_dir: RunDir
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        api = python("api", tier=1, port=port, setting="settings.server.port")
        supervisor = supervise(python("db"), api)
        with pytest.raises(StackError) as caught:
            supervisor.start()
    assert f"cannot start api: port {port} on 127.0.0.1 is already in use" in str(caught.value)
    assert "settings.server.port" in str(caught.value)
    assert not run_dir.pid_path("db").exists()


def test_two_processes_given_one_port_are_refused(supervise: Build, python: Python) -> None:
    supervisor = supervise(python("a", port=1), python("b", port=1))
    with pytest.raises(StackError, match="b and a are both given port 1"):
        supervisor.start()


def test_without_a_run_dir_children_share_the_supervisors_output() -> None:
    code = (
        "import sys\n"
        "from ragworks.stack.supervisor import Supervisor\n"
        "from ragworks.stack.process import ProcessSpec\n"
        "s = Supervisor([ProcessSpec('w', [sys.executable, '-c', 'print(\"hello from the child\")'])])\n"
        "s.start(); s.children[0].process.wait(); s.stop()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert "hello from the child" in done.stdout


def test_children_die_with_a_killed_supervisor(eventually: Eventually, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    code = (
        "import sys, time\n"
        "from ragworks.stack.supervisor import Supervisor\n"
        "from ragworks.stack.process import ProcessSpec\n"
        "sleep = [sys.executable, '-c', 'import time; time.sleep(120)']\n"
        "s = Supervisor([ProcessSpec('w1', sleep), ProcessSpec('w2', sleep)]); s.start()\n"
        "open(sys.argv[1], 'w').write(' '.join(str(c.process.pid) for c in s.children))\n"
        "time.sleep(120)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code, str(pids)])
    try:
        eventually(lambda: pids.exists() and len(pids.read_text().split()) == 2, timeout_s=30)
        children = [(int(p), process_start(int(p))) for p in pids.read_text().split()]
        assert all(is_alive(pid, started) for pid, started in children)
        parent.kill()
        parent.wait()
        eventually(lambda: not any(is_alive(pid, started) for pid, started in children))
    finally:
        parent.kill()
        parent.wait()
