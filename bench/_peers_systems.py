"""The servers bench/peers_compare.py measures, each a real process (or two) on a loopback port:
``ragworks serve``, the bare FastAPI floor, the LangChain service and Chroma behind its FastAPI front.

A :class:`Service` knows its root processes, so the harness can read the CPU time and RSS of every
process it serves with (a server's tree, or Chroma's server and its front together).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from _common import (
    BENCH_DIR,
    REPO,
    RssSampler,
    child_pids,
    cpu_seconds,
    free_port,
    stack_down,
    stack_up,
    tree_rss_mib,
)

ROOT = BENCH_DIR / "peers-compare"
LOGS = ROOT / "logs"
LANGCHAIN_VENV = BENCH_DIR / "peer-langchain-venv"
CHROMA_VENV = BENCH_DIR / "peer-chroma-venv"
PEERS = REPO / "bench" / "peers"
QUIET = {"RAGWORKS_LOG_LEVEL": "WARNING", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


@dataclass
class Service:
    """A running system: its name, URL, retrieve path and the processes that do its work."""

    name: str
    url: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    samplers: list[RssSampler] = field(default_factory=list)
    roots: list[int] = field(default_factory=list)  # process trees not started here (a stack's)
    shutdown: Callable[[], None] | None = None  # how to stop what ``roots`` run

    def _pids(self) -> list[int]:
        return [p.pid for p in self.processes] + self.roots

    def cpu_s(self) -> float:
        """User + system CPU seconds of every process of the service and their descendants."""
        return sum(cpu_seconds(pid) for pid in self._pids())

    def rss_mib(self) -> float:
        """Resident memory of every process of the service with descendants, MiB, now."""
        return sum(tree_rss_mib(pid)[1] for pid in self._pids())

    def peak_rss_mib(self) -> float:
        """Sum of the peak RSS of each process tree since start (sampled every 0.25 s)."""
        return sum(s.peak()[1] for s in self.samplers)

    def stop(self) -> None:
        for sampler in self.samplers:
            sampler.stop()
        if self.shutdown is not None:
            self.shutdown()
        for process in reversed(self.processes):  # the front first, then what it talks to
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=30)

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def launch(
    command: Sequence[str], port: int, ready: str, log_name: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start ``command`` and wait until ``GET ready`` answers 200 on ``port``."""
    LOGS.mkdir(parents=True, exist_ok=True)
    with (LOGS / f"{log_name}.log").open("ab") as log:
        process = subprocess.Popen(
            list(command),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            env=os.environ | QUIET | (env or {}),
        )
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{log_name} exited during start-up; see {LOGS / log_name}.log")
        try:
            if httpx.get(f"http://127.0.0.1:{port}{ready}", timeout=5).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"{log_name} did not become ready")


def _service(name: str, port: int, processes: list[subprocess.Popen[bytes]]) -> Service:
    return Service(
        name=name,
        url=f"http://127.0.0.1:{port}",
        processes=processes,
        samplers=[RssSampler(p.pid) for p in processes],
    )


def ragworks_embedded(data_dir: Path) -> Service:
    """``ragworks serve`` on ``data_dir`` (extractive answers: no LLM is loaded, none is asked)."""
    port = free_port()
    command = [sys.executable, "-m", "ragworks", "serve", "--port", str(port), "--data-dir", str(data_dir)]
    process = launch(command, port, "/ready", "ragworks", {"RAGWORKS_LLM__PROVIDER": "extractive"})
    return _service("ragworks embedded", port, [process])


def ragworks_scaled(folder: Path) -> Service:
    """``ragworks up`` (PostgreSQL 18 + pgvector, Redis, the API and one worker) on ``folder``, whose
    data is kept between runs; API keys off and extractive answers, as in the embedded row. Its CPU
    and memory are those of the supervisor's process tree and of any process it started that left it."""
    url = stack_up(folder, env=QUIET)
    state = json.loads((folder / "data" / "run" / "state.json").read_text())
    recorded = [state["supervisor_pid"], *(p["pid"] for p in state["processes"] if p.get("pid"))]
    roots = _roots(recorded)

    return Service(
        name="ragworks scaled (`ragworks up`)",
        url=url,
        samplers=[RssSampler(pid) for pid in roots],
        roots=roots,
        shutdown=lambda: stack_down(folder),
    )


def _roots(pids: Sequence[int]) -> list[int]:
    """The ``pids`` that are not descendants of another of them (each process counted once)."""
    below: set[int] = set()
    for pid in pids:
        todo = child_pids(pid)
        while todo:
            child = todo.pop()
            below.add(child)
            todo += child_pids(child)
    return [pid for pid in dict.fromkeys(pids) if pid not in below]


def floor(answer: Path) -> Service:
    """The bare FastAPI endpoint answering canned bytes (bench/peers/floor_app.py)."""
    port = free_port()
    command = [sys.executable, str(PEERS / "floor_app.py"), "--port", str(port), "--answer", str(answer)]
    return _service("bare FastAPI floor", port, [launch(command, port, "/ready", "floor")])


def langchain(index_dir: Path) -> Service:
    """The LangChain EnsembleRetriever service (bench/peers/langchain_app.py) in its own environment."""
    port = free_port()
    python = str(LANGCHAIN_VENV / "bin" / "python")
    command = [python, str(PEERS / "langchain_app.py"), "--port", str(port), "--index-dir", str(index_dir)]
    return _service("LangChain (FAISS + BM25)", port, [launch(command, port, "/ready", "langchain")])


def chroma(path: Path) -> Service:
    """``chroma run`` on ``path`` and the FastAPI front that embeds with MiniLM (bench/peers/chroma_app.py)."""
    chroma_port, port = free_port(), free_port()
    path.mkdir(parents=True, exist_ok=True)
    server_command = [
        str(CHROMA_VENV / "bin" / "chroma"),
        "run",
        "--path",
        str(path),
        "--port",
        str(chroma_port),
    ]
    env = {"ANONYMIZED_TELEMETRY": "False"}
    server = launch(server_command, chroma_port, "/api/v2/heartbeat", "chroma-server", env)
    try:
        front_command = [str(CHROMA_VENV / "bin" / "python"), str(PEERS / "chroma_app.py")]
        front_command += ["--port", str(port), "--chroma-port", str(chroma_port)]
        front = launch(front_command, port, "/ready", "chroma-front", env)
    except RuntimeError:
        server.kill()
        raise
    return _service("Chroma (server + front)", port, [server, front])


def peers_available() -> dict[str, str]:
    """Which peer environments are missing, with what to run to build them."""
    missing: dict[str, str] = {}
    for name, venv in (("langchain", LANGCHAIN_VENV), ("chroma", CHROMA_VENV)):
        if not (venv / ".installed").exists():
            missing[name] = f"{venv.relative_to(REPO)} is not built (make bench-peers-compare builds it)"
    return missing


def retrieve_body(query: str, collection: str, mode: str, top_k: int = 10, **extra: Any) -> dict[str, Any]:
    """The one request model every system here takes (ragworks' ``RetrieveInput`` fields)."""
    return {"query": query, "collections": [collection], "top_k": top_k, "mode": mode, **extra}
