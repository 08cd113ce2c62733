"""Tables and targets of bench/peers_compare.py, printed and written to the docs section."""

from __future__ import annotations

import math
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from _common import md_table, print_table, verdict
from _peers_inprocess import Floor
from _peers_measure import Phase
from _peers_systems import CHROMA_VENV, LANGCHAIN_VENV

CLIENTS = (1, 8)
DEEP_CLIENTS = 32  # a deep queue: no request should starve behind the others
# No dearer per request at 8 connections than at 1, within what two runs of the same phase differ here.
SAME_CPU_TOLERANCE = 1.10
PEER_PACKAGES = {
    LANGCHAIN_VENV: ("langchain-core", "langchain-classic", "langchain-community", "faiss-cpu", "rank-bm25",
                     "fastapi", "uvicorn", "sentence-transformers", "torch"),
    CHROMA_VENV: ("chromadb", "fastapi", "uvicorn", "sentence-transformers", "torch"),
}  # fmt: skip


@dataclass
class Row:
    """One system and mode: quality, ingestion and its closed-loop phases at 1 and 8 clients."""

    system: str
    mode: str
    ndcg: dict[str, float] = field(default_factory=dict)
    ingest_rate: float | None = None
    phases: dict[int, Phase] = field(default_factory=dict)
    rss_mib: float | None = None
    idle_ms_per_s: float | None = None
    note: str = ""


def _num(value: float | None, digits: int = 1) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:,.{digits}f}"


def _pair(phase: Phase | None) -> str:
    return "—" if phase is None else f"{phase.p(50):.1f} / {phase.p(99):.1f}"


MAIN_HEAD = ["system", "mode", "nDCG@10 SciFact", "nDCG@10 autorag-ko", "ingest passages/s",
             "req/s at saturation (8 conn.)", "p50 / p99 ms, 1 conn.", "p50 / p99 ms, 8 conn.",
             "server CPU ms/req, 1 / 8 conn.", "RSS MiB under load", "idle CPU ms/s"]  # fmt: skip


def main_rows(rows: Sequence[Row]) -> list[list[str]]:
    table = []
    for row in rows:
        one, eight = row.phases.get(1), row.phases.get(8)
        if row.note:
            table.append([row.system, row.mode, *["—"] * 8, row.note])
            continue
        table.append([
            row.system, row.mode,
            _num(row.ndcg.get("scifact"), 3), _num(row.ndcg.get("autorag-ko"), 3), _num(row.ingest_rate),
            _num(eight.rps if eight else None), _pair(one), _pair(eight),
            f"{_num(one.cpu_ms if one else None, 2)} / {_num(eight.cpu_ms if eight else None, 2)}",
            _num(row.rss_mib, 0), _num(row.idle_ms_per_s),
        ])  # fmt: skip
    return table


OPEN_HEAD = [
    "mode",
    "load",
    "offered req/s",
    "answered req/s",
    "p50 ms",
    "p99 ms",
    "max ms",
    "server CPU ms/req",
]


def open_rows(
    open_loop: dict[str, list[tuple[float, Phase]]], closed: dict[str, Row], deep: dict[str, Phase]
) -> list[list[str]]:
    """Per mode: closed loops at 8 and at ``DEEP_CLIENTS`` connections, then the open-loop phases."""
    table = []
    for mode in [m for m in ("keyword", "vector", "hybrid") if m in open_loop or m in deep]:
        loops = [("closed loop, 8 conn.", closed[mode].phases.get(8) if mode in closed else None)]
        loops.append((f"closed loop, {DEEP_CLIENTS} conn.", deep.get(mode)))
        for label, phase in loops:
            if phase is not None:
                table.append([mode, label, "—", _num(phase.rps), _num(phase.p(50)), _num(phase.p(99)),
                              _num(max(phase.latencies_ms, default=math.nan)), _num(phase.cpu_ms, 2)])  # fmt: skip
        for share, phase in open_loop.get(mode, []):
            table.append([mode, f"open loop, {share:.0%} of saturation", _num(phase.rate), _num(phase.rps),
                          _num(phase.p(50)), _num(phase.p(99)), _num(max(phase.latencies_ms, default=math.nan)),
                          _num(phase.cpu_ms, 2)])  # fmt: skip
    return table


FLOOR_HEAD = ["in-process step", "calls", "CPU ms/call", "p50 ms", "p99 ms"]


def floor_rows(floors: Sequence[Floor]) -> list[list[str]]:
    return [[f.name, f.calls, f"{f.cpu_ms:.3f}", f"{f.p50_ms:.3f}", f"{f.p99_ms:.3f}"] for f in floors]


TARGET_HEAD = ["target", "measured", "verdict"]


def target_rows(ragworks: dict[str, Row], floor: Row | None) -> list[list[str]]:
    """Targets of the issue, judged on the dearer of the 1- and 8-connection figures."""

    def worst(row: Row | None) -> float:
        return max((p.cpu_ms for p in row.phases.values()), default=math.nan) if row else math.nan

    table: list[list[str]] = []
    keyword, hybrid = ragworks.get("keyword"), ragworks.get("hybrid")
    if keyword is not None:
        table.append(
            [
                "keyword: server CPU ≤ 1 ms/req",
                f"{worst(keyword):.2f} ms",
                verdict(worst(keyword), 1.0, at_least=False),
            ]
        )
        if floor is not None:
            ratio = worst(keyword) / worst(floor)
            table.append(["keyword: < 5× the bare FastAPI floor", f"{ratio:.1f}× ({worst(floor):.2f} ms floor)",
                          "met" if ratio < 5 else "**not met**"])  # fmt: skip
    if hybrid is not None:
        table.append(
            [
                "hybrid: server CPU ≤ 5 ms/req",
                f"{worst(hybrid):.2f} ms",
                verdict(worst(hybrid), 5.0, at_least=False),
            ]
        )
    for mode, row in ragworks.items():
        if 1 in row.phases and 8 in row.phases:
            ratio = row.phases[8].cpu_ms / row.phases[1].cpu_ms
            table.append([f"{mode}: CPU/req at 8 conn. ≤ at 1 (±10 %)", f"{ratio:.2f}×",
                          verdict(ratio, SAME_CPU_TOLERANCE, at_least=False)])  # fmt: skip
    return table  # fmt: skip


def peer_versions() -> str:
    """Versions of every peer package, read from each peer environment."""
    parts = []
    for venv, packages in PEER_PACKAGES.items():
        code = "import importlib.metadata as m, sys\nfor p in sys.argv[1:]:\n    print(p, m.version(p))"
        try:
            out = subprocess.run([str(venv / "bin" / "python"), "-c", code, *packages],
                                 capture_output=True, text=True, check=True, timeout=60).stdout  # fmt: skip
        except (OSError, subprocess.SubprocessError):
            out = "not installed"
        parts.append(f"`{venv.name}`: " + ", ".join(out.split("\n")[:-1] if "\n" in out else [out]))
    return "; ".join(parts)


def show(title: str, head: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Print a table under ``title`` and return its markdown."""
    print(f"\n{title}")
    print_table(head, [[str(c).replace("**", "") for c in r] for r in rows])
    return f"\n{title}:\n\n" + md_table(head, rows)
