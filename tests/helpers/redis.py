"""A real Redis server for tests: Debian's ``redis-server`` (``make test`` installs it where it can),
in a temporary folder, on a free loopback port, with persistence off."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from helpers.postgres import free_port

MISSING = "redis-server is not installed (make test installs Debian's redis-server with apt-get when it can)"


@contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    """Run redis-server in ``folder`` until exit; yields its URL. Skips the test where it is missing."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip(MISSING)
    port = free_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    command += ["--dir", str(folder), "--logfile", str(folder / "redis.log")]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        _wait_until_up(port, process, folder / "redis.log")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_until_up(port: int, process: subprocess.Popen[bytes], log: Path, timeout_s: float = 10) -> None:
    import redis

    client = redis.Redis(port=port, socket_connect_timeout=0.2)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                if client.ping():
                    return
            except redis.ConnectionError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                text = log.read_text(errors="replace") if log.exists() else "(no log)"
                raise RuntimeError(f"redis-server did not start on port {port}:\n{text}")
            time.sleep(0.05)
    finally:
        client.close()
