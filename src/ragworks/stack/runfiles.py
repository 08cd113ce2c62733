"""The run directory (``<data_dir>/run/``): PID files, one log per process, the stack's state file.

The supervisor holds an exclusive ``flock`` on ``supervisor.pid`` for as long as it runs, so any other
command can tell whether a supervisor is alive without trusting a PID that may have been reused.
Child PIDs are checked against the start time the kernel recorded for them, for the same reason.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ragworks.stack import StackError

SUPERVISOR = "supervisor"


@dataclass
class ProcessRecord:
    """One supervised process as the state file records it."""

    name: str
    state: str = "stopped"  # starting | running | backoff | stopping | stopped | failed
    pid: int | None = None
    pid_start: int | None = None  # the kernel's start time of ``pid``: tells it from a reused PID
    port: int | None = None
    started_at: float | None = None
    restarts: int = 0
    last_exit: str | None = None
    stop_signal: int = 15  # SIGTERM; PostgreSQL stops fast on SIGINT


@dataclass
class StackState:
    """What ``status`` reads: the stack's phase and its processes in start order."""

    phase: str = "starting"  # starting | up | stopping | stopped | failed
    error: str | None = None
    supervisor_pid: int | None = None
    started_at: float | None = None
    api_url: str | None = None
    processes: list[ProcessRecord] = field(default_factory=list)


class RunDir:
    """Paths and files of one run directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.state_path = root / "state.json"
        self._lock_fd: int | None = None

    def ensure(self) -> None:
        """Create the folder."""
        self.root.mkdir(parents=True, exist_ok=True)

    def log_path(self, name: str) -> Path:
        """The log file of process ``name``."""
        return self.root / f"{name}.log"

    def pid_path(self, name: str) -> Path:
        """The PID file of process ``name``."""
        return self.root / f"{name}.pid"

    def log_names(self) -> list[str]:
        """Names of the processes that have a log here, supervisor first."""
        names = sorted(p.stem for p in self.root.glob("*.log"))
        return sorted(names, key=lambda n: n != SUPERVISOR)

    def write_pid(self, name: str, pid: int) -> None:
        """Record ``pid`` as process ``name``'s."""
        self.pid_path(name).write_text(f"{pid}\n")

    def remove_pid(self, name: str) -> None:
        """Forget process ``name``'s PID."""
        self.pid_path(name).unlink(missing_ok=True)

    def write_state(self, state: StackState) -> None:
        """Replace the state file atomically (readers never see half of it)."""
        temporary = self.state_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(state), indent=1))
        temporary.replace(self.state_path)

    def read_state(self) -> StackState | None:
        """The last state a supervisor wrote, or None when no stack ever ran here."""
        try:
            raw = json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            return None
        processes = [ProcessRecord(**p) for p in raw.pop("processes", [])]
        return StackState(**raw, processes=processes)

    def lock_supervisor(self) -> None:
        """Take the supervisor lock and write this process's PID under it.

        Raises:
            StackError: another supervisor holds it.
        """
        self.ensure()
        fd = os.open(self.pid_path(SUPERVISOR), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StackError(
                f"a stack is already running from {self.root.parent} (supervisor pid "
                f"{self.supervisor_pid()}): see `ragworks status`, stop it with `ragworks down`"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    def unlock_supervisor(self) -> None:
        """Release the supervisor lock and remove its PID file."""
        if self._lock_fd is not None:
            self.remove_pid(SUPERVISOR)
            os.close(self._lock_fd)
            self._lock_fd = None

    def supervisor_pid(self) -> int | None:
        """The PID of the supervisor running from here, or None when none is."""
        path = self.pid_path(SUPERVISOR)
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = path.read_text().strip()
            return int(text) if text.isdigit() else -1
        else:
            return None
        finally:
            os.close(fd)

    def cap_log(self, name: str, max_bytes: int, backups: int) -> None:
        """Rotate ``name``'s log once it passes ``max_bytes``: copy to ``.1`` (older ones shift), then
        truncate in place, since the process keeps writing to its open file (O_APPEND)."""
        path = self.log_path(name)
        with contextlib.suppress(OSError):
            if path.stat().st_size <= max_bytes:
                return
            for n in range(backups - 1, 0, -1):
                older = path.with_name(f"{path.name}.{n}")
                if older.exists():
                    older.replace(path.with_name(f"{path.name}.{n + 1}"))
            if backups > 0:
                shutil.copyfile(path, path.with_name(f"{path.name}.1"))
            os.truncate(path, 0)


def tail_lines(path: Path, count: int) -> list[str]:
    """The last ``count`` lines of ``path`` (an empty list when there is no such file)."""
    try:
        with path.open("rb") as file:
            size = file.seek(0, os.SEEK_END)
            file.seek(max(0, size - 64 * 1024 - 256 * count))
            data = file.read()
    except OSError:
        return []
    return data.decode(errors="replace").splitlines()[-count:] if count > 0 else []


def process_start(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot (Linux ``/proc``); None when unknown or gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may hold spaces and parentheses
    if fields[0] in ("Z", "X"):  # a zombie has exited
        return None
    return int(fields[19])


def is_alive(pid: int | None, started: int | None = None) -> bool:
    """Whether ``pid`` runs and, when ``started`` is known, is the same process that started then."""
    if pid is None or pid <= 0:
        return False
    current = process_start(pid)
    if current is None:
        if Path("/proc/self/stat").exists():
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return started is None or current == started
