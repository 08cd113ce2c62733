"""The stack's optional Redis server (``redis.enabled``): Debian's ``redis-server`` from PATH.

Nothing in ragworks needs Redis yet (jobs live in PostgreSQL), so it is off by default; when on, it
keeps no snapshot or log on disk, in keeping with Redis never being the only copy of anything.
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

from ragworks.stack import StackError
from ragworks.stack.config import RedisSection
from ragworks.stack.probes import Probe
from ragworks.stack.process import ProcessSpec

HOST = "127.0.0.1"


def redis_spec(section: RedisSection, data_dir: Path) -> ProcessSpec:
    """The Redis server process, listening on 127.0.0.1 only.

    Raises:
        StackError: the server program is not installed.
    """
    program = shutil.which(section.command)
    if program is None:
        raise StackError(
            f"redis.enabled is true but `{section.command}` is not on PATH: install it "
            "(Debian/Ubuntu: apt-get install redis-server) or set redis.enabled = false "
            "(query vectors are then cached per process)"
        )
    folder = data_dir / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    argv = [program, "--bind", HOST, "--port", str(section.port), "--dir", str(folder)]
    argv += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
    return ProcessSpec(
        "redis",
        argv,
        tier=0,
        host=HOST,
        port=section.port,
        ready=ping(HOST, section.port),
        setting="redis.port",
    )


def redis_url(section: RedisSection) -> str:
    """The URL clients use."""
    return f"redis://{HOST}:{section.port}/0"


def ping(host: str, port: int) -> Probe:
    """A probe: the server answers PING with PONG."""

    def probe() -> bool:
        try:
            with socket.create_connection((host, port), timeout=2) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    return probe
