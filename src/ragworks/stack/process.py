"""One supervised process: what to run (``ProcessSpec``) and how it is started, described and killed."""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ragworks.stack.probes import START_MARKER, Probe

_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class ProcessSpec:
    """A process the supervisor keeps running.

    Processes start tier by tier (lowest first, each tier ready before the next starts) and stop in
    the reverse order; the processes of one tier start and stop together.
    """

    name: str
    argv: Sequence[str]
    env: Mapping[str, str] | None = None  # None: the supervisor's own environment
    tier: int = 0
    host: str = "127.0.0.1"
    port: int | None = None  # checked free before the first start; shown by `status`
    ready: Probe | None = None  # None: ready once started
    on_ready: Callable[[], None] | None = None  # run once, the first time it is ready
    stop_signal: int = signal.SIGTERM  # the graceful one; SIGKILL follows after the grace period
    user: str | None = None  # run as this OS user (the supervisor must be root)
    cwd: Path | None = None
    setting: str = field(default="", compare=False)  # the config key of ``port``, for error messages


def start_process(spec: ProcessSpec, log: IO[bytes] | None) -> subprocess.Popen[bytes]:
    """Start ``spec`` in its own process group with its output appended to ``log`` (None: inherited).

    On Linux the process gets ``spec.stop_signal`` if the supervisor dies, so children never outlive it.
    """
    if log is not None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        command = " ".join(spec.argv).replace("\n", "\\n")
        log.write(f"{START_MARKER} starting {spec.name} at {stamp}: {command}\n".encode())
        log.flush()
    account = pwd.getpwnam(spec.user) if spec.user else None
    return subprocess.Popen(
        list(spec.argv),
        env=dict(spec.env) if spec.env is not None else None,
        cwd=spec.cwd,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT if log is not None else None,
        start_new_session=True,  # a Ctrl-C in the terminal reaches the supervisor only: it stops them in order
        preexec_fn=_die_with_parent(spec.stop_signal),
        user=account.pw_uid if account else None,
        group=account.pw_gid if account else None,
        extra_groups=[] if account else None,
    )


def _die_with_parent(sig: int) -> Callable[[], None] | None:
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)  # loaded before the fork: the child only calls it
    parent = os.getpid()

    def set_death_signal() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, sig)
        if os.getppid() != parent:  # the supervisor died before the line above
            os.kill(os.getpid(), sig)

    return set_death_signal


def kill_group(pid: int) -> None:
    """SIGKILL what is left of the process group ``pid`` leads (its own children, once it is gone)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def send(pid: int, sig: int) -> None:
    """Send ``sig`` to ``pid``, ignoring a process that is already gone."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def describe_exit(code: int) -> str:
    """``exit code 3`` or ``killed by SIGKILL``, from a Popen return code."""
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    return f"exit code {code}"
