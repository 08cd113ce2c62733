"""Shared pieces of the benchmark scripts: paths, machine description, a real ``ragworks serve`` process
with an RSS sampler, HTTP ingestion, a bounded async load generator, tables, and the generated sections
of ``docs/benchmarks.md``.

Not part of the product or of the test suite; run the scripts in ``bench/`` directly (see the docs).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import itertools
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("RAGWORKS_BENCH_DATA", REPO.parent / "shared" / "data"))
BENCH_DIR = REPO / ".bench"
DOCS = REPO / "docs" / "benchmarks.md"
MODES = ("keyword", "vector", "hybrid")
START_LOAD = os.getloadavg()  # taken when a script imports this module, i.e. when its run starts


# --- machine and command -------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _ram_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return float("nan")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


@functools.cache
def git_revision() -> str:
    """Short commit, with ``+dirty`` when the work tree has changes: read once, when a benchmark starts
    (this module is imported; see below), so files edited while it runs do not change what it reports."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


git_revision()  # the revision of the code that is about to run


def machine() -> str:
    """One line: cores, CPU model, RAM, load average, Python and torch versions."""
    load = ", ".join(f"{x:.1f}" for x in START_LOAD)
    return (
        f"{os.cpu_count()} cores ({_cpu_model()}), {_ram_gib():.0f} GiB RAM, load average at start {load}; "
        f"Python {platform.python_version()}, torch {_version('torch')}, ragworks at {git_revision()}"
    )


def command_line() -> str:
    """The command that is running, as one would type it from the repository root."""
    exe = Path(sys.executable)
    try:
        python = str(exe.relative_to(REPO))
    except ValueError:
        python = "python"
    script = Path(sys.argv[0]).resolve()
    try:
        script_text = str(script.relative_to(REPO))
    except ValueError:
        script_text = sys.argv[0]
    return shlex.join([python, script_text, *sys.argv[1:]])


# What decides the content of an index: analysis, chunking, parsing, embedding, the index and store
# engines and the settings' defaults. Services, routes and jobs code do not change what is indexed.
INDEX_SOURCES = ("ingest", "engines/embed", "engines/index", "engines/store", "config.py", "domain.py")


def source_key() -> str:
    """Hash of the source that decides an index's content: one built by other code is not reused for
    quality figures."""
    digest = hashlib.sha256()
    root = REPO / "src" / "ragworks"
    for name in INDEX_SOURCES:
        path = root / name
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            if file.is_file():
                digest.update(str(file.relative_to(root)).encode())
                digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


# --- docs sections ---------------------------------------------------------------------------------


def section_header(title: str, started: float, notes: str = "") -> str:
    """Heading lines every generated section starts with: command, date, machine."""
    when = dt.datetime.fromtimestamp(started).astimezone().strftime("%Y-%m-%d %H:%M %Z")
    lines = [
        f"### {title}",
        "",
        "```bash",
        command_line(),
        "```",
        "",
        f"Measured {when} in {time.time() - started:,.0f} s on {machine()}.",
    ]
    if notes:
        lines += ["", notes]
    return "\n".join(lines) + "\n"


def write_section(name: str, body: str) -> None:
    """Replace the text between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->`` (appended if absent)."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    text = DOCS.read_text(encoding="utf-8") if DOCS.exists() else "# Benchmarks\n"
    block = f"{start}\n{body.rstrip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _m: block, text)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    DOCS.write_text(text, encoding="utf-8")
    print(f"\nwrote section '{name}' of {DOCS.relative_to(REPO)}")


def md_table(head: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A markdown table (numbers already formatted by the caller)."""
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def print_table(head: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A plain-text table on stdout."""
    cells = [[str(c) for c in head], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(head))]
    for number, row in enumerate(cells):
        print(
            "  ".join(
                c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if number == 0:
            print("  ".join("-" * w for w in widths))


def verdict(measured: float, target: float, *, at_least: bool) -> str:
    """'met' / 'not met' for a measured value against a target (never an assertion)."""
    ok = measured >= target if at_least else measured <= target
    return "met" if ok else "**not met**"


# --- statistics -----------------------------------------------------------------------------------


def percentile(samples: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile ``q`` (0-100) of ``samples``; NaN when empty."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


# --- memory ---------------------------------------------------------------------------------------


def _status_kib(pid: int, field_name: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def child_pids(pid: int) -> list[int]:
    """The live child processes of ``pid`` (of every thread), from /proc."""
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text().split()
            found += [int(x) for x in text]
    except OSError:
        pass
    return found


def tree_rss_mib(pid: int) -> tuple[float, float]:
    """(RSS of ``pid``, RSS of ``pid`` and all its descendants), MiB."""
    own = _status_kib(pid, "VmRSS") / 1024
    total, todo = own, child_pids(pid)
    while todo:
        child = todo.pop()
        total += _status_kib(child, "VmRSS") / 1024
        todo += child_pids(child)
    return own, total


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its descendants, from /proc (all threads): each live
    process's own time and that of its children that ended and were waited for (PostgreSQL's backends
    end with their connections; without them a phase could even show a negative difference)."""
    total, todo = 0.0, [pid]
    ticks = os.sysconf("SC_CLK_TCK")
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(fields[i]) for i in (11, 12, 13, 14)) / ticks  # utime stime cutime cstime
        except (OSError, IndexError, ValueError):
            pass
        todo += child_pids(current)
    return total


class RssSampler:
    """Samples a process (and its children) from /proc in a thread; ``peak()`` since the last reset."""

    def __init__(self, pid: int, interval_s: float = 0.25) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self._peak_own = 0.0
        self._peak_tree = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval_s)

    def sample(self) -> tuple[float, float]:
        own, tree = tree_rss_mib(self.pid)
        self._peak_own = max(self._peak_own, own)
        self._peak_tree = max(self._peak_tree, tree)
        return own, tree

    def reset(self) -> None:
        self._peak_own = self._peak_tree = 0.0
        self.sample()

    def peak(self) -> tuple[float, float]:
        """(peak RSS of the process, peak RSS of the process with its children), MiB, since reset."""
        self.sample()
        return self._peak_own, self._peak_tree

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def dir_size_mib(path: Path) -> float:
    """Bytes of every file under ``path`` (disk use of the data), MiB."""
    if not path.exists():
        return 0.0
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


# --- the server -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A real ``ragworks serve`` subprocess on a loopback port and its own data dir, sampled for RSS."""

    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    args: list[str] = field(default_factory=list)  # more `ragworks serve` options
    process: subprocess.Popen[bytes] | None = None
    sampler: RssSampler | None = None
    start_s: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 600) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log_dir = BENCH_DIR / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "ragworks", "serve", "--port", str(self.port)]
        command += ["--data-dir", str(self.data_dir), *self.args]
        env = os.environ | {"RAGWORKS_LOG_LEVEL": "WARNING", "HF_HUB_OFFLINE": "1"} | self.env
        started = time.perf_counter()
        with (log_dir / f"server-{self.data_dir.name}.log").open("ab") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
        self.sampler = RssSampler(self.process.pid)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited during start-up; see {log_dir}")
            try:
                if httpx.get(f"{self.url}/ready", timeout=5).status_code == 200:
                    self.start_s = time.perf_counter() - started
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError("the server did not become ready")

    def rss(self) -> tuple[float, float]:
        """Current (server, server + children) RSS in MiB."""
        assert self.process is not None
        return tree_rss_mib(self.process.pid)

    def peak(self) -> tuple[float, float]:
        assert self.sampler is not None
        return self.sampler.peak()

    def stop(self) -> None:
        if self.sampler is not None:
            self.sampler.stop()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=300)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


# --- ingestion over HTTP --------------------------------------------------------------------------


def job_counts(client: httpx.Client) -> dict[str, int]:
    """Ingest jobs by status, read from the server's /metrics ``jobs`` gauge."""
    text = client.get("/metrics", timeout=60).text
    counts: dict[str, int] = {}
    for match in re.finditer(r'^jobs\{kind="document\.ingest",status="(\w+)"\} ([0-9.e+]+)$', text, re.M):
        counts[match.group(1)] = int(float(match.group(2)))
    return counts


@dataclass
class IngestResult:
    documents: int
    upload_retries: int
    seconds: float
    cpu_s: float
    upload_s: float
    chunks: int
    dead: int
    peak_rss_mib: float
    peak_tree_rss_mib: float


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def _upload(client: httpx.Client, path: str, documents: list[dict[str, Any]], attempts: int = 6) -> int:
    """POST one batch; a 5xx or a broken connection is retried as a client would (accepting the same
    content again is a no-op). Returns the number of retries."""
    for attempt in range(attempts):
        try:
            response = client.post(path, json={"documents": documents})
        except httpx.TransportError as exc:
            error = f"{type(exc).__name__}: {exc}"
        else:
            if response.status_code == 202:
                return attempt
            error = f"{response.status_code} {response.text[:300]}"
            if response.status_code < 500:
                break
        print(f"  upload failed ({error}); retrying", flush=True)
        time.sleep(5 * (attempt + 1))
    raise RuntimeError(f"upload failed: {error}")


def http_ingest(
    server: Server,
    collection: str,
    documents: Iterable[dict[str, Any]],
    *,
    batch: int = 500,
    progress_every_s: float = 30.0,
) -> IngestResult:
    """Create ``collection``, POST the documents as JSON batches, wait until no ingest job is pending.

    Time runs from the first upload to the moment every ingest job has finished (``ready``).
    """
    assert server.sampler is not None
    with httpx.Client(base_url=server.url, timeout=600) as client:
        response = client.post("/v1/collections", json={"name": collection})
        if response.status_code not in (201, 409):
            response.raise_for_status()
        before = job_counts(client)
        server.sampler.reset()
        assert server.process is not None
        cpu_before = cpu_seconds(server.process.pid)
        started = time.perf_counter()
        sent = retries = 0
        last = started
        for part in batched(documents, batch):
            retries += _upload(client, f"/v1/collections/{collection}/documents", part)
            sent += len(part)
            if time.perf_counter() - last > progress_every_s:
                last = time.perf_counter()
                print(f"  uploaded {sent:,} documents in {last - started:,.0f} s", flush=True)
        upload_s = time.perf_counter() - started
        while True:
            counts = job_counts(client)
            pending = sum(counts.get(s, 0) for s in ("queued", "running", "failed"))
            if pending == 0:
                break
            if time.perf_counter() - last > progress_every_s:
                last = time.perf_counter()
                done = counts.get("succeeded", 0) - before.get("succeeded", 0)
                own, _ = server.rss()
                print(
                    f"  {done:,}/{sent:,} ready after {last - started:,.0f} s (server RSS {own:,.0f} MiB)",
                    flush=True,
                )
            # /metrics counts the jobs table: poll gently on long runs (granularity stays ~1 % of the time)
            time.sleep(min(5.0, max(0.5, (time.perf_counter() - started) / 100)))
        seconds = time.perf_counter() - started
        cpu_s = cpu_seconds(server.process.pid) - cpu_before
        peak_own, peak_tree = server.peak()
        info = client.get(f"/v1/collections/{collection}").json()
        dead = counts.get("dead", 0) - before.get("dead", 0)
    return IngestResult(
        documents=sent,
        upload_retries=retries,
        seconds=seconds,
        cpu_s=cpu_s,
        upload_s=upload_s,
        chunks=int(info.get("chunk_count", 0)),
        dead=dead,
        peak_rss_mib=peak_own,
        peak_tree_rss_mib=peak_tree,
    )


def read_docs(root: Path, limit: int | None = None) -> list[dict[str, Any]]:
    """The first ``limit`` records of a BEIR corpus (corpus.jsonl or corpus.jsonl.gz under ``root``)."""
    from ragworks.evaluation.beir import read_corpus

    docs = itertools.islice(read_corpus(root), limit)
    return [{"id": d.id, "title": d.title, "text": d.text} for d in docs]


def as_upload(doc: dict[str, Any]) -> dict[str, Any]:
    """The JSON document ``ragworks eval`` would make of a corpus record (text, or the title alone)."""
    body: dict[str, Any] = {"id": doc["id"], "text": doc["text"] or doc["title"]}
    if doc["title"]:
        body["title"] = doc["title"]
    return body


# --- cached data dirs -----------------------------------------------------------------------------


def scifact_dir(limit: int | None) -> Path:
    """The SciFact data dir bench/ingest.py leaves (collection ``eval``), reused by quality and latency."""
    return BENCH_DIR / ("scifact" if limit is None else f"scifact-{limit}")


def stamp_path(data_dir: Path) -> Path:
    return data_dir.parent / f"{data_dir.name}.json"


def read_stamp(data_dir: Path) -> dict[str, Any] | None:
    """What a finished ingestion recorded about a cached data dir (None when absent or unfinished)."""
    path = stamp_path(data_dir)
    if not path.is_file() or not data_dir.is_dir():
        return None
    value: dict[str, Any] = json.loads(path.read_text())
    return value


def write_stamp(data_dir: Path, facts: dict[str, Any]) -> None:
    facts = facts | {"source_key": source_key(), "revision": git_revision(), "at": time.time()}
    stamp_path(data_dir).write_text(json.dumps(facts, indent=2))


def wipe(data_dir: Path) -> None:
    stamp_path(data_dir).unlink(missing_ok=True)
    shutil.rmtree(data_dir, ignore_errors=True)


# --- load generator -------------------------------------------------------------------------------


class Slices:
    """Hands out consecutive, never-reused slices of the query pool."""

    def __init__(self, pool: list[str]) -> None:
        self.pool, self.position = pool, 0

    def take(self, count: int) -> list[str]:
        if self.position + count > len(self.pool):
            print(f"  (query pool exhausted: texts repeat after {len(self.pool):,})")
            self.position = 0
        part = self.pool[self.position : self.position + count]
        self.position += count
        return part


@dataclass
class LoadResult:
    clients: int
    latencies_ms: list[float]
    errors: int
    seconds: float
    error_kinds: dict[str, int] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0


async def load(
    url: str,
    bodies: Sequence[dict[str, Any]],
    clients: int,
    *,
    requests: int,
    max_seconds: float,
    path: str = "/v1/retrieve",
) -> LoadResult:
    """``clients`` concurrent closed-loop clients POST the bodies in turn until ``requests`` are done or
    ``max_seconds`` pass (loopback only; bounded in count and time)."""
    if not url.startswith(("http://127.", "http://localhost")):
        raise ValueError("load is only ever sent to the loopback interface")
    counter = itertools.count()
    latencies: list[float] = []
    errors = 0
    kinds: dict[str, int] = {}
    deadline = time.perf_counter() + max_seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client_loop(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            number = next(counter)
            if number >= requests:
                return
            body = bodies[number % len(bodies)]
            started = time.perf_counter()
            try:
                response = await client.post(path, json=body)
                kind = "" if response.status_code == 200 else f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                kind = type(exc).__name__
            elapsed = (time.perf_counter() - started) * 1000
            if not kind:
                latencies.append(elapsed)
            else:
                errors += 1
                kinds[kind] = kinds.get(kind, 0) + 1

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        began = time.perf_counter()
        await asyncio.gather(*(client_loop(client) for _ in range(clients)))
        seconds = time.perf_counter() - began
    return LoadResult(
        clients=clients, latencies_ms=latencies, errors=errors, seconds=seconds, error_kinds=kinds
    )


# --- the scaled stack ------------------------------------------------------------------------------


def stack_up(folder: Path, workers: int = 1, api_workers: int = 1, env: dict[str, str] | None = None) -> str:
    """``ragworks up --detach`` on ``folder`` (its data kept there), API keys off and extractive answers
    as in ``ragworks serve``; returns the API's URL. ``stack_down(folder)`` stops it."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)  # reachable by PostgreSQL's account when this runs as root
    config = folder / "ragworks.toml"
    config.write_text(
        f"[stack]\nworkers = {workers}\napi_workers = {api_workers}\nready_timeout_s = 600\n\n"
        f'[settings]\ndata_dir = "{folder / "data"}"\n[settings.server]\nport = {free_port()}\n'
        '[settings.llm]\nprovider = "extractive"\n[settings.auth]\nenabled = false\n'
    )
    up = subprocess.run(
        [sys.executable, "-m", "ragworks", "up", "--detach", "--config", str(config)],
        capture_output=True, text=True, cwd=REPO, env=os.environ | (env or {}), check=False,
    )  # fmt: skip
    if up.returncode != 0 or "stack is up: API " not in up.stdout:
        raise RuntimeError(f"ragworks up failed:\n{up.stdout}\n{up.stderr}")
    return up.stdout.split("stack is up: API ")[1].split()[0]


def stack_down(folder: Path) -> None:
    """``ragworks down`` for the stack ``stack_up`` started on ``folder``."""
    command = [sys.executable, "-m", "ragworks", "down", "--config", str(folder / "ragworks.toml")]
    subprocess.run(command, capture_output=True, cwd=REPO, check=False)
