"""Real ``ragworks model-serve`` processes for the model service's tests.

- ``start_model_server(tmp, **settings)``: a subprocess on free loopback ports, settings given as
  ``model_service`` fields (``max_queue_texts=50``); returns once ``GET /health`` says ok, or raises with
  the process's log.
- ``model_server`` (session): one server with default settings, shared by every module that asks.
- ``model_stub`` (session): a ``ModelServiceStub`` on a channel to it.
- ``reference_embedder`` (session): the in-process MiniLM, started: what served vectors must equal.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest

from ragworks.engines.embed.minilm import MiniLMEmbedder
from ragworks.model_service import model_pb2_grpc

START_TIMEOUT_S = 180.0  # loading MiniLM on a busy two-core machine takes 10-20 s
STOP_TIMEOUT_S = 60.0


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll ``condition`` until it holds; fail with ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@dataclass
class ModelServer:
    """A running ``ragworks model-serve`` process."""

    process: subprocess.Popen[bytes]
    grpc_target: str
    http_url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def metrics(self) -> str:
        return httpx.get(f"{self.http_url}/metrics", timeout=10).text

    def metric(self, name: str, **labels: str) -> float:
        """One sample of ``GET /metrics`` (0 when absent)."""
        label_text = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
        pattern = re.escape(name + (f"{{{label_text}}}" if labels else "")) + r" ([0-9.e+-]+)$"
        match = re.search(pattern, self.metrics(), flags=re.MULTILINE)
        return float(match.group(1)) if match else 0.0

    def stop(self) -> int:
        """SIGTERM, then the exit status (killed after ``STOP_TIMEOUT_S``)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_model_server(folder: Path, **settings: Any) -> ModelServer:
    """A started model service with ``model_service`` settings overridden by ``settings``."""
    grpc_port, http_port = free_port(), free_port()
    env = {
        **os.environ,
        "RAGWORKS_DATA_DIR": str(folder),
        "RAGWORKS_LOG_JSON": "false",
        "RAGWORKS_EMBED__PROVIDER": "minilm",
        **{f"RAGWORKS_MODEL_SERVICE__{key.upper()}": str(value) for key, value in settings.items()},
    }
    command = [sys.executable, "-m", "ragworks", "model-serve", "--host", "127.0.0.1"]
    command += ["--grpc-port", str(grpc_port), "--http-port", str(http_port)]
    log_path = folder / "model-serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = ModelServer(process, f"127.0.0.1:{grpc_port}", f"http://127.0.0.1:{http_port}", log_path)

    def healthy() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"model-serve exited with {process.returncode}:\n{server.log()}")
        try:
            return httpx.get(f"{server.http_url}/health", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(healthy, START_TIMEOUT_S, "model-serve to report healthy")
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture(scope="session")
def model_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelServer]:
    """A model service with default settings for the whole session."""
    server = start_model_server(tmp_path_factory.mktemp("model-serve"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def model_stub(model_server: ModelServer) -> Iterator[model_pb2_grpc.ModelServiceStub]:
    """A gRPC stub of the session's model service."""
    with grpc.insecure_channel(model_server.grpc_target) as channel:
        yield model_pb2_grpc.ModelServiceStub(channel)  # type: ignore[no-untyped-call]


@pytest.fixture(scope="session")
def reference_embedder() -> Iterator[MiniLMEmbedder]:
    """The in-process MiniLM, started."""
    model = MiniLMEmbedder(batch_size=16)
    model.start()
    yield model
    model.close()
