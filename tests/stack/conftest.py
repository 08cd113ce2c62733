"""Fixtures of the stack tests: a run directory and small real child processes to supervise."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ragworks.stack.process import ProcessSpec
from ragworks.stack.runfiles import RunDir
from ragworks.stack.supervisor import Supervisor, SupervisorOptions

# A child that says it started, then sleeps until it is stopped.
SLEEPER = "import time; print('started', flush=True); time.sleep(120)"

FAST = SupervisorOptions(
    ready_timeout_s=10, stop_timeout_s=5, restart_delay_s=0.05, restart_delay_max_s=0.4, poll_s=0.02
)


# A supervisor in its own process, as `ragworks up` runs one, over the run dir given as argv[1]: two
# sleepers, a "server" with a port and a "worker".
SUPERVISOR_SCRIPT = """
import sys
from pathlib import Path
from ragworks.stack.probes import free_port
from ragworks.stack.process import ProcessSpec
from ragworks.stack.runfiles import RunDir
from ragworks.stack.runner import configure_progress
from ragworks.stack.supervisor import Supervisor, SupervisorOptions
configure_progress()
run = RunDir(Path(sys.argv[1]))
run.lock_supervisor()
sleep = [sys.executable, "-c", "import time; print('started', flush=True); time.sleep(120)"]
specs = [ProcessSpec("server", sleep, port=free_port()), ProcessSpec("worker-1", sleep, tier=1)]
supervisor = Supervisor(specs, SupervisorOptions(stop_timeout_s=5, poll_s=0.05), run, "http://127.0.0.1:1")
supervisor.stop_on_signals()
supervisor.start()
supervisor.run()
run.unlock_supervisor()
"""

Python = Callable[..., ProcessSpec]
Eventually = Callable[..., None]


def _python(name: str, code: str = SLEEPER, *args: str, **fields: Any) -> ProcessSpec:
    return ProcessSpec(name, [sys.executable, "-c", code, *args], **fields)


def _eventually(
    condition: Callable[[], bool], timeout_s: float = 10.0, tick: Callable[[], None] | None = None
) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the condition did not become true in time"
        if tick is not None:
            tick()
        time.sleep(0.02)


@pytest.fixture
def python() -> Python:
    """``python(name, code=SLEEPER, *args, **spec_fields)``: a spec running ``code`` in a fresh
    interpreter (no ragworks import, so it starts in ~50 ms)."""
    return _python


@pytest.fixture
def eventually() -> Eventually:
    """``eventually(condition, timeout_s=10, tick=None)``: wait until ``condition()`` holds, calling
    ``tick`` between tries; fail after the timeout."""
    return _eventually


@pytest.fixture
def supervisor_script() -> str:
    """Python code that supervises two sleepers from the run dir given as its first argument."""
    return SUPERVISOR_SCRIPT


@pytest.fixture
def run_dir(tmp_path: Path) -> RunDir:
    """An empty run directory."""
    folder = RunDir(tmp_path / "data" / "run")
    folder.ensure()
    return folder


@pytest.fixture
def supervise(run_dir: RunDir) -> Iterator[Callable[..., Supervisor]]:
    """Build supervisors over ``run_dir``; each is stopped at the end of the test."""
    made: list[Supervisor] = []

    def build(*specs: ProcessSpec, options: SupervisorOptions = FAST) -> Supervisor:
        supervisor = Supervisor(list(specs), options, run_dir)
        made.append(supervisor)
        return supervisor

    yield build
    for supervisor in made:
        supervisor.stop()
