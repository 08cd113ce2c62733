"""A real ``ragworks model-serve`` process on loopback ports, for the remote embedder tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from ragworks.stack.model_service import grpc_serving

READY_TIMEOUT_S = 180.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ModelServeProcess:
    """``ragworks model-serve`` on fixed ports (kept across restarts, so clients find it again)."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.grpc_port = _free_port()
        self.http_port = _free_port()
        self.target = f"127.0.0.1:{self.grpc_port}"
        self.http_url = f"http://127.0.0.1:{self.http_port}"
        self.extra_env = env or {}
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / f"model-serve-{self.grpc_port}.log"

    def start(self) -> None:
        """Start it and wait until the gRPC health service reports SERVING (the model is loaded)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "ragworks", "model-serve"]
        command += ["--grpc-port", str(self.grpc_port), "--http-port", str(self.http_port)]
        env = {
            **os.environ,
            "RAGWORKS_DATA_DIR": str(self.data_dir),
            "RAGWORKS_LOG_LEVEL": "WARNING",
            "RAGWORKS_EMBED__PROVIDER": "minilm",
            **self.extra_env,
        }
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        serving = grpc_serving(self.target)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"model-serve exited: {self.log_path.read_text()[-2000:]}"
            if serving():
                return
            time.sleep(0.2)
        raise AssertionError("model-serve did not become ready")

    def kill(self) -> None:
        """SIGKILL: no goodbye to its clients."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
