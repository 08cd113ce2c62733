"""``ragworks up``: supervise a stack in this process, or start a supervisor in the background."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ragworks.stack import StackError
from ragworks.stack.config import StackConfig
from ragworks.stack.first_key import ensure_admin_key
from ragworks.stack.plan import data_dir_of, plan_stack
from ragworks.stack.runfiles import SUPERVISOR, RunDir, StackState
from ragworks.stack.supervisor import Supervisor

log = logging.getLogger("ragworks.stack")


def run_foreground(
    config: StackConfig,
    source: Path | None,
    workers: int | None,
    api_workers: int | None,
    on_up: Callable[[str], None],
) -> None:
    """Start the stack and supervise it until SIGINT or SIGTERM, then stop it in reverse order.

    Raises:
        StackError: another supervisor runs from this data dir, or the stack could not start.
    """
    run_dir = RunDir(data_dir_of(config, source) / "run")
    run_dir.lock_supervisor()
    try:
        plan = plan_stack(config, source, workers, api_workers)
        for note in plan.notes:
            log.info("%s", note)
        supervisor = Supervisor(plan.specs, plan.options, plan.run_dir, plan.api_url)
        supervisor.stop_on_signals()
        supervisor.start()
        if plan.settings is not None and (key_file := ensure_admin_key(plan.settings)) is not None:
            log.info("the API asks for API keys: an admin key was made and saved in %s", key_file)
        on_up(plan.api_url)
        supervisor.run()
        log.info("stack stopped")
    finally:
        run_dir.unlock_supervisor()


def start_detached(
    config: StackConfig, source: Path | None, argv: Sequence[str], echo: Callable[[str], None]
) -> str:
    """Run ``argv`` (a foreground ``ragworks up``) as a background supervisor; show its progress until
    the stack is up and return the API's URL.

    Raises:
        StackError: a supervisor already runs here, or the new one failed (with its last lines).
    """
    run_dir = RunDir(data_dir_of(config, source) / "run")
    run_dir.ensure()
    running = run_dir.supervisor_pid()
    if running is not None:
        raise StackError(
            f"a stack is already running from {run_dir.root.parent} (supervisor pid {running}): "
            "see `ragworks status`, stop it with `ragworks down`"
        )
    log_path = run_dir.log_path(SUPERVISOR)
    run_dir.write_state(StackState(phase="starting"))  # no stale "up" from an earlier run
    offset = log_path.stat().st_size if log_path.exists() else 0
    pid = _spawn_detached(argv, log_path)
    with log_path.open("rb") as log_file:
        log_file.seek(offset)
        while True:
            exited = os.waitpid(pid, os.WNOHANG)[0] == pid
            for line in log_file.read().decode(errors="replace").splitlines():
                echo(line)
            state = run_dir.read_state()
            if state and state.supervisor_pid == pid and state.phase == "up" and state.api_url:
                return state.api_url
            if exited:
                raise StackError(f"the stack did not start (see {log_path})")
            time.sleep(0.2)


def _spawn_detached(argv: Sequence[str], log_path: Path) -> int:
    """Start ``argv`` in a session of its own, output appended to ``log_path``; returns its PID.

    No Popen object: the supervisor outlives this command, which never waits for it to end.
    """
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, str(log_path), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    return os.posix_spawn(argv[0], list(argv), dict(os.environ), file_actions=actions, setsid=True)


def detached_argv(config_path: Path | None, workers: int | None, api_workers: int | None) -> list[str]:
    """The command line of the background supervisor: ``ragworks up`` with the same options."""
    argv = [sys.executable, "-m", "ragworks", "up"]
    if config_path is not None:
        argv += ["--config", str(config_path.resolve())]
    if workers is not None:
        argv += ["--workers", str(workers)]
    if api_workers is not None:
        argv += ["--api-workers", str(api_workers)]
    return argv


def configure_progress() -> None:
    """Print the stack's progress lines (``12:00:01 api is ready (8.2 s)``) on stderr."""
    handler = _StderrLines()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    stack_log = logging.getLogger("ragworks.stack")
    stack_log.handlers = [handler]
    stack_log.setLevel(logging.INFO)
    stack_log.propagate = False


class _StderrLines(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)
