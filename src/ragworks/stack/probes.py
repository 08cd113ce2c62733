"""Checks the supervisor runs before and after starting a process: is a port free, is a process ready."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import httpx

Probe = Callable[[], bool]

# The line the supervisor writes to a process's log each time it starts it; a probe that reads the log
# only looks past the last one, so lines of an earlier run never count.
START_MARKER = "==> ragworks stack:"


def port_free(host: str, port: int) -> bool:
    """Whether a server could listen on ``host:port`` now (nothing else listens there)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # as servers do: a port whose old connections linger in TIME_WAIT counts as free
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now, chosen by the kernel."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def http_ok(url: str) -> Probe:
    """A probe: ``GET url`` answers 200."""

    def probe() -> bool:
        try:
            return httpx.get(url, timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    return probe


def log_says(path: Path, text: str) -> Probe:
    """A probe: the process's log shows ``text`` since it was last started."""

    def probe() -> bool:
        try:
            with path.open("rb") as file:
                size = file.seek(0, 2)
                file.seek(max(0, size - 256 * 1024))
                tail = file.read().decode(errors="replace")
        except OSError:
            return False
        return text in tail.rsplit(START_MARKER, 1)[-1]

    return probe


def connect_host(host: str) -> str:
    """The address a client on this machine uses to reach a server listening on ``host``."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
