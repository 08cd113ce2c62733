"""``status``, ``down`` and ``logs``: answered from the run directory, whether or not a stack runs."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ragworks.stack import StackError
from ragworks.stack.process import kill_group, send
from ragworks.stack.runfiles import ProcessRecord, RunDir, StackState, is_alive, tail_lines

COLUMNS = ("NAME", "PID", "STATE", "PORT", "UPTIME", "RESTARTS")


@dataclass(frozen=True)
class StackStatus:
    """The stack as ``ragworks status`` shows it."""

    summary: str
    rows: list[tuple[str, ...]]
    healthy: bool  # the supervisor and every process are running


def stack_status(run_dir: RunDir) -> StackStatus:
    """Read the state file and check the PIDs it names."""
    state = run_dir.read_state()
    if state is None:
        return StackStatus(
            f"no stack has run from {run_dir.root.parent} (start one with `ragworks up`)", [], False
        )
    supervisor = run_dir.supervisor_pid()
    now = time.time()
    rows: list[tuple[str, ...]] = []
    healthy = supervisor is not None and state.phase == "up"
    for record in state.processes:
        alive = is_alive(record.pid, record.pid_start)
        if supervisor is None:
            shown = "orphaned" if alive else "stopped"
        else:
            shown = record.state if alive or record.state in ("backoff", "stopped", "failed") else "exited"
        healthy &= shown == "running"
        uptime = _duration(now - record.started_at) if alive and record.started_at else "-"
        port = str(record.port) if record.port else "-"
        rows.append(
            (record.name, str(record.pid) if alive else "-", shown, port, uptime, str(record.restarts))
        )
    if supervisor is None:
        summary = f"stack in {run_dir.root.parent}: not running (last phase: {state.phase})"
        if state.error:
            summary += f"\n  error: {state.error.splitlines()[0]}"
    else:
        since = f", up {_duration(now - state.started_at)}" if state.started_at else ""
        summary = f"stack in {run_dir.root.parent}: {state.phase} (supervisor pid {supervisor}{since})"
        if state.api_url:
            summary += f"\n  API: {state.api_url}"
    return StackStatus(summary, rows, healthy)


def format_table(rows: list[tuple[str, ...]]) -> str:
    """Rows under the column names, aligned."""
    table = [COLUMNS, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in table
    )


def stop_stack(run_dir: RunDir, grace_s: float, echo: Callable[[str], None]) -> bool:
    """Stop the stack: SIGTERM its supervisor, which stops the processes in reverse order, and wait.
    Processes left without a supervisor get their stop signal, then SIGKILL after ``grace_s``.
    Returns whether anything was running."""
    supervisor = run_dir.supervisor_pid()
    if supervisor is not None and supervisor > 0:
        echo(f"stopping the stack (supervisor pid {supervisor}) ...")
        send(supervisor, signal.SIGTERM)
        patience = grace_s * 4 + 10  # it gives each of its tiers the grace period
        if not _wait(lambda: run_dir.supervisor_pid() is None, patience):
            echo(f"the supervisor did not stop in {patience:.0f} s: killing it")
            send(supervisor, signal.SIGKILL)
            _wait(lambda: run_dir.supervisor_pid() is None, 10)
    state = run_dir.read_state() or StackState()
    leftovers = [r for r in reversed(state.processes) if is_alive(r.pid, r.pid_start)]
    for record in leftovers:
        _stop_orphan(run_dir, record, grace_s, echo)
    if leftovers:
        for record in state.processes:
            record.state, record.pid, record.pid_start = "stopped", None, None
        state.phase = "stopped"
        run_dir.write_state(state)
    return supervisor is not None or bool(leftovers)


def _stop_orphan(run_dir: RunDir, record: ProcessRecord, grace_s: float, echo: Callable[[str], None]) -> None:
    pid, started = record.pid, record.pid_start
    assert pid is not None
    echo(f"stopping {record.name} (pid {pid}), left without a supervisor")
    send(pid, record.stop_signal)
    if not _wait(lambda: not is_alive(pid, started), grace_s):
        echo(f"{record.name} did not stop in {grace_s:.0f} s: killing it")
    kill_group(pid)
    run_dir.remove_pid(record.name)


def log_files(run_dir: RunDir, name: str | None) -> list[tuple[str, Path]]:
    """The log of process ``name``, or every log of the stack.

    Raises:
        StackError: no such process, or no logs at all.
    """
    names = run_dir.log_names()
    if not names:
        raise StackError(f"no logs in {run_dir.root} (has a stack run from here?)")
    if name is None:
        return [(n, run_dir.log_path(n)) for n in names]
    if name not in names:
        raise StackError(f"no process named '{name}' (logs: {', '.join(names)})")
    return [(name, run_dir.log_path(name))]


def tail_logs(files: list[tuple[str, Path]], lines: int) -> Iterator[str]:
    """The last ``lines`` lines of each file, prefixed with its process's name when there are several."""
    for name, path in files:
        for line in tail_lines(path, lines):
            yield f"{name} | {line}" if len(files) > 1 else line


def follow_logs(
    files: list[tuple[str, Path]], stop: Callable[[], bool], poll_s: float = 0.25
) -> Iterator[str]:
    """Lines appended to the files from now on, until ``stop()``; a rotated (truncated) file is read
    again from its start."""
    offsets = {path: path.stat().st_size if path.exists() else 0 for _, path in files}
    pending = dict.fromkeys(offsets, b"")
    while not stop():
        for name, path in files:
            try:
                with path.open("rb") as file:
                    size = file.seek(0, 2)
                    if size < offsets[path]:
                        offsets[path] = 0
                    file.seek(offsets[path])
                    data = pending[path] + file.read()
                    offsets[path] = file.tell()
            except OSError:
                continue
            *complete, pending[path] = data.split(b"\n")
            for raw in complete:
                line = raw.decode(errors="replace")
                yield f"{name} | {line}" if len(files) > 1 else line
        time.sleep(poll_s)


def _wait(condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"
