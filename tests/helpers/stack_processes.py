"""The processes of a running ``ragworks up`` stack, found through its state file as ``ragworks status``
finds them: which PID and port each has, killing one, and waiting for the supervisor to restart it."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass

from helpers.stack import RunningStack
from ragworks.stack.runfiles import RunDir, is_alive


def stack_pid(stack: RunningStack, name: str) -> int | None:
    """The PID of the stack's process ``name`` (``api``, ``postgres``, ``redis``, ``worker-1``) while
    the supervisor reports it running, else None. A process killed a moment ago keeps its PID here
    until the supervisor notices (it is a zombie until then): compare with the PID that was killed."""
    state = RunDir(stack.data_dir / "run").read_state()
    assert state is not None, "the stack wrote no state file"
    for record in state.processes:
        if record.name == name and record.state == "running" and record.pid:
            return record.pid if is_alive(record.pid, record.pid_start) else None
    return None


def kill_stack_process(stack: RunningStack, name: str) -> tuple[int, float]:
    """SIGKILL the stack's process ``name``; returns its PID and the (monotonic) time of the kill."""
    pid = stack_pid(stack, name)
    assert pid is not None, f"{name} is not running"
    os.kill(pid, signal.SIGKILL)
    return pid, time.monotonic()


@dataclass(frozen=True, slots=True)
class Restart:
    """When the supervisor started a killed process again, and when it was ready (monotonic)."""

    spawned_at: float
    ready_at: float


def wait_restarted(stack: RunningStack, name: str, old_pid: int, timeout_s: float = 240.0) -> Restart:
    """Wait until the supervisor has started ``name`` again under another PID and reports it running."""
    deadline = time.monotonic() + timeout_s
    run = RunDir(stack.data_dir / "run")
    spawned_at = None
    while True:
        state = run.read_state()
        record = next((p for p in state.processes if p.name == name), None) if state else None
        if record is not None and record.pid not in (None, old_pid):
            spawned_at = spawned_at or time.monotonic()
            if record.state == "running":
                return Restart(spawned_at, time.monotonic())
        assert time.monotonic() < deadline, f"{name} was not restarted within {timeout_s:.0f} s"
        time.sleep(0.05)


def stack_port(stack: RunningStack, name: str) -> int:
    """The port the stack's process ``name`` listens on."""
    state = RunDir(stack.data_dir / "run").read_state()
    assert state is not None, "the stack wrote no state file"
    port = next((p.port for p in state.processes if p.name == name), None)
    assert port is not None, f"the stack has no {name} with a port"
    return port
