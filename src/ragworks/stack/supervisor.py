"""Starts processes tier by tier, restarts those that crash (with backoff) and stops them in reverse.

The supervisor is a plain loop in one thread: ``start()`` (raises ``StackError`` with the failing
process's last log lines), then ``tick()`` every fraction of a second until asked to stop, then
``stop()``. With a run directory it keeps PID files, one capped log per process and the state file
``status`` reads; without one (``ragworks worker --concurrency N``) children share its output.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from ragworks.stack import StackError
from ragworks.stack.probes import port_free
from ragworks.stack.process import ProcessSpec, describe_exit, kill_group, send, start_process
from ragworks.stack.runfiles import ProcessRecord, RunDir, StackState, process_start, tail_lines

log = logging.getLogger("ragworks.stack")


@dataclass(frozen=True)
class SupervisorOptions:
    """Timeouts, restart backoff and log caps."""

    ready_timeout_s: float = 180.0
    stop_timeout_s: float = 30.0
    restart_delay_s: float = 1.0
    restart_delay_max_s: float = 30.0
    log_max_bytes: int = 10 * 1024 * 1024
    log_backups: int = 3
    poll_s: float = 0.2


class _Child:
    def __init__(self, spec: ProcessSpec) -> None:
        self.spec = spec
        self.record = ProcessRecord(spec.name, port=spec.port, stop_signal=int(spec.stop_signal))
        self.process: subprocess.Popen[bytes] | None = None
        self.started = 0.0  # monotonic
        self.failures = 0  # exits in a row without a long enough run between them
        self.restart_at: float | None = None
        self.delay = 0.0  # before the pending restart


class Supervisor:
    """Keeps a set of processes running; see the module docstring."""

    def __init__(
        self,
        specs: Sequence[ProcessSpec],
        options: SupervisorOptions | None = None,
        run_dir: RunDir | None = None,
        api_url: str | None = None,
    ) -> None:
        self.options = options or SupervisorOptions()
        self.run_dir = run_dir
        self.children = [_Child(spec) for spec in specs]
        self.state = StackState(api_url=api_url, processes=[c.record for c in self.children])
        self.interrupted = threading.Event()
        self._logs_checked = 0.0

    def stop_on_signals(self) -> None:
        """Let SIGINT and SIGTERM end ``start()`` or ``run()`` (then ``stop()`` stops the children)."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.interrupted.set())

    def start(self) -> None:
        """Check the ports, then start each tier and wait until it is ready.

        Raises:
            StackError: a port is taken, or a process exited or was not ready in time (with its last
                log lines); whatever had started is stopped again.
        """
        self.state.started_at, self.state.supervisor_pid = time.time(), os.getpid()
        self._save()
        try:
            check_ports([c.spec for c in self.children])
            for tier in self._tiers():
                for child in tier:
                    self._spawn(child)
                self._wait_ready(tier)
        except BaseException as exc:
            self.stop()
            self.state.phase, self.state.error = "failed", str(exc)
            self._save()
            raise
        self.state.phase = "up"
        self._save()

    def run(self) -> None:
        """Supervise until interrupted (SIGINT/SIGTERM with ``stop_on_signals``), then stop everything."""
        try:
            while not self.interrupted.wait(self.options.poll_s):
                self.tick()
        finally:
            self.stop()

    def tick(self) -> None:
        """One round: notice exits, schedule and perform restarts, mark restarted processes ready."""
        now = time.monotonic()
        changed = False
        for child in self.children:
            code = child.process.poll() if child.process else None
            if code is not None:
                self._exited(child, code, now)
                changed = True
            elif child.process is None and child.restart_at is not None and now >= child.restart_at:
                changed |= self._restart(child)
            elif child.record.state == "starting" and (child.spec.ready is None or child.spec.ready()):
                child.record.state = "running"
                log.info("%s is running again", child.spec.name)
                changed = True
        if changed:
            self._save()
        if self.run_dir and now - self._logs_checked > 2.0:
            self._logs_checked = now
            for child in self.children:
                self.run_dir.cap_log(child.spec.name, self.options.log_max_bytes, self.options.log_backups)

    def stop(self) -> None:
        """Stop every process, last tier first: its graceful signal, then SIGKILL after the grace period."""
        if self.state.phase in ("stopping", "stopped"):
            return
        self.state.phase = "stopping"
        self._save()
        for tier in reversed(self._tiers()):
            running = [c for c in tier if c.process and c.process.poll() is None]
            for child in running:
                assert child.process is not None
                log.info("stopping %s (pid %d)", child.spec.name, child.process.pid)
                child.record.state = "stopping"
                send(child.process.pid, child.spec.stop_signal)
            self._save()
            deadline = time.monotonic() + self.options.stop_timeout_s
            for child in running:
                assert child.process is not None
                try:
                    child.process.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    log.warning(
                        "%s did not stop in %.0f s: killing it", child.spec.name, self.options.stop_timeout_s
                    )
                    kill_group(child.process.pid)
                    child.process.wait()
            for child in tier:
                self._forget(child, "stopped")
        self.state.phase = "stopped"
        self._save()

    def _tiers(self) -> list[list[_Child]]:
        levels = sorted({c.spec.tier for c in self.children})
        return [[c for c in self.children if c.spec.tier == level] for level in levels]

    def _spawn(self, child: _Child) -> None:
        spec = child.spec
        log.info("starting %s%s", spec.name, f" on port {spec.port}" if spec.port else "")
        if self.run_dir:
            with self.run_dir.log_path(spec.name).open("ab") as out:  # the child keeps its own descriptor
                child.process = start_process(spec, out)
            self.run_dir.write_pid(spec.name, child.process.pid)
        else:
            child.process = start_process(spec, None)
        child.started, child.restart_at = time.monotonic(), None
        record = child.record
        record.pid, record.pid_start = child.process.pid, process_start(child.process.pid)
        record.state, record.started_at = "starting", time.time()
        self._save()

    def _wait_ready(self, tier: list[_Child]) -> None:
        began = time.monotonic()
        waiting = list(tier)
        while waiting:
            for child in list(waiting):
                assert child.process is not None
                code = child.process.poll()
                if code is not None:
                    raise StackError(
                        f"{child.spec.name} exited while starting ({describe_exit(code)})" + self._tail(child)
                    )
                if child.spec.ready is None or child.spec.ready():
                    child.record.state = "running"
                    log.info("%s is ready (%.1f s)", child.spec.name, time.monotonic() - began)
                    if child.spec.on_ready:
                        child.spec.on_ready()
                    waiting.remove(child)
                    self._save()
            if waiting and time.monotonic() - began > self.options.ready_timeout_s:
                names = ", ".join(c.spec.name for c in waiting)
                raise StackError(
                    f"{names} not ready after {self.options.ready_timeout_s:.0f} s" + self._tail(waiting[0])
                )
            if waiting and self.interrupted.wait(self.options.poll_s):
                raise StackError("interrupted while starting")

    def _tail(self, child: _Child) -> str:
        if self.run_dir is None:
            return ""
        path = self.run_dir.log_path(child.spec.name)
        lines = tail_lines(path, 20)
        body = "\n".join(f"  {line}" for line in lines) if lines else "  (nothing logged)"
        return f"; the last lines of {path}:\n{body}"

    def _exited(self, child: _Child, code: int, now: float) -> None:
        options = self.options
        ran = now - child.started
        child.failures = 1 if ran > options.restart_delay_max_s else child.failures + 1
        delay = min(options.restart_delay_s * 2 ** (child.failures - 1), options.restart_delay_max_s)
        self._forget(child, "backoff")
        child.record.last_exit = describe_exit(code)
        child.restart_at, child.delay = now + delay, delay
        log.warning(
            "%s exited (%s) after %.1f s; restarting it in %.1f s",
            child.spec.name,
            child.record.last_exit,
            ran,
            delay,
        )

    def _restart(self, child: _Child) -> bool:
        spec = child.spec
        if spec.port is not None and not port_free(spec.host, spec.port):
            log.warning("%s: port %d is still in use; retrying in 1 s", spec.name, spec.port)
            child.restart_at = time.monotonic() + 1.0
            return False
        child.record.restarts += 1
        self._spawn(child)
        return True

    def _forget(self, child: _Child, state: str) -> None:
        if child.process is not None:
            kill_group(child.process.pid)  # what the process started and left behind (workers, backends)
            child.process = None
        child.restart_at = None
        record = child.record
        record.state, record.pid, record.pid_start = state, None, None
        if self.run_dir:
            self.run_dir.remove_pid(child.spec.name)

    def _save(self) -> None:
        if self.run_dir:
            self.run_dir.write_state(self.state)


def check_ports(specs: Sequence[ProcessSpec]) -> None:
    """Raise StackError, naming the setting to change, when a port is taken or given twice."""
    seen: dict[int, str] = {}
    for spec in specs:
        if spec.port is None:
            continue
        hint = f" (set {spec.setting} to another port)" if spec.setting else ""
        if spec.port in seen:
            raise StackError(f"{spec.name} and {seen[spec.port]} are both given port {spec.port}{hint}")
        seen[spec.port] = spec.name
        if not port_free(spec.host, spec.port):
            raise StackError(
                f"cannot start {spec.name}: port {spec.port} on {spec.host} is already in use by "
                f"another program{hint}"
            )
