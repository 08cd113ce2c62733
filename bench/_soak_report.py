"""The soak benchmark's figures: one record per minute (requests, errors, latency per kind, the server's
memory, descriptors, queue and CPU), the verdict that compares the first and last minutes, and the tables
printed and written into docs/benchmarks.md.

Requests count in the minute they finished in (those still in flight at a minute's end are counted in
the next), so a minute's figures are final when it ends.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from _common import cpu_seconds, dir_size_mib, percentile, tree_rss_mib, verdict
from _soak_load import KINDS, Outcome

RSS_GROWTH_LIMIT = 0.10  # the targets: RSS growth under 10 %, no error, p99 within 1.5x
P99_RATIO_LIMIT = 1.5
# A p99 of fewer samples is little more than the maximum: kinds rarer than this in a window are shown,
# not judged.
MIN_JUDGED = 100


@dataclass
class Minute:
    """What one minute of the run looked like, from the client and from /proc and the admin API."""

    index: int
    requests: dict[str, int]
    errors: dict[str, int]
    latency_ms: dict[str, tuple[float, float, float]]  # kind -> (p50, p95, p99)
    rss_mib: float  # mean of the minute's samples of the server's VmRSS
    tree_rss_mib: float  # the same with its child processes
    fds: int
    queue_depth: int
    dead_jobs: int  # dead jobs since the run started
    server_cores: float  # server CPU seconds per second
    load1: float
    data_mib: float


@dataclass
class Probe:
    """Samples the server during a minute: RSS every few seconds, the rest once at the minute's end."""

    pid: int
    data_dir: Path
    client: httpx.AsyncClient
    dead_at_start: int = 0
    _rss: list[tuple[float, float]] = field(default_factory=list)
    _cpu: float = 0.0

    async def start(self) -> None:
        self.dead_at_start = (await self.overview())[1]
        self._cpu = cpu_seconds(self.pid)
        self.sample_rss()

    def sample_rss(self) -> None:
        self._rss.append(tree_rss_mib(self.pid))

    async def overview(self) -> tuple[int, int]:
        """(queue depth, dead jobs) from GET /v1/admin/overview."""
        body = (await self.client.get("/v1/admin/overview", params={"window_s": 60})).json()
        return int(body["depth"]), int(body["totals"].get("dead", 0))

    async def close_minute(self, index: int, outcomes: Sequence[Outcome]) -> Minute:
        """The record of minute ``index`` from the outcomes that finished in it and the samples taken."""
        self.sample_rss()
        depth, dead = await self.overview()
        cpu = cpu_seconds(self.pid)
        own = [o for o, _ in self._rss]
        tree = [t for _, t in self._rss]
        minute = Minute(
            index=index,
            requests=_count(outcomes, lambda _o: True),
            errors=_count(outcomes, lambda o: bool(o.error)),
            latency_ms=latency_by_kind(outcomes),
            rss_mib=sum(own) / len(own),
            tree_rss_mib=sum(tree) / len(tree),
            fds=len(os.listdir(f"/proc/{self.pid}/fd")),
            queue_depth=depth,
            dead_jobs=dead - self.dead_at_start,
            server_cores=(cpu - self._cpu) / 60,
            load1=os.getloadavg()[0],
            data_mib=dir_size_mib(self.data_dir),
        )
        self._rss, self._cpu = [self._rss[-1]], cpu
        return minute


def _count(outcomes: Sequence[Outcome], keep: Callable[[Outcome], bool]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        if keep(outcome):
            counts[outcome.kind] = counts.get(outcome.kind, 0) + 1
    return counts


def latency_by_kind(outcomes: Sequence[Outcome]) -> dict[str, tuple[float, float, float]]:
    """p50/p95/p99 of the successful requests of each kind."""
    out: dict[str, tuple[float, float, float]] = {}
    for kind in KINDS:
        ms = [o.ms for o in outcomes if o.kind == kind and not o.error]
        if ms:
            out[kind] = (percentile(ms, 50), percentile(ms, 95), percentile(ms, 99))
    return out


def minute_line(m: Minute) -> str:
    """The line printed when a minute ends."""
    total, errors = sum(m.requests.values()), sum(m.errors.values())
    p99 = ", ".join(f"{k} {v[2]:.0f}" for k, v in m.latency_ms.items())
    return (
        f"minute {m.index + 1:>2}: {total} requests, {errors} errors; RSS {m.rss_mib:,.0f} MiB "
        f"(with children {m.tree_rss_mib:,.0f}), {m.fds} fds, queue {m.queue_depth}, "
        f"dead jobs {m.dead_jobs}, server CPU {m.server_cores:.2f} cores, load {m.load1:.1f}; p99 ms: {p99}"
    )


@dataclass
class Verdict:
    """The first and last ``window`` minutes compared against the issue's three targets."""

    window: int
    rss_first: float
    rss_last: float
    http_errors: int
    dead_jobs: int
    error_kinds: dict[str, int]
    p99: dict[str, tuple[int, float, int, float]]  # kind -> (n first, p99 first, n last, p99 last)

    @property
    def rss_growth(self) -> float:
        return (self.rss_last - self.rss_first) / self.rss_first

    def judged(self, kind: str) -> bool:
        n_first, _, n_last, _ = self.p99[kind]
        return min(n_first, n_last) >= MIN_JUDGED

    def p99_met(self) -> bool:
        return all(
            last <= first * P99_RATIO_LIMIT for k, (_, first, _, last) in self.p99.items() if self.judged(k)
        )

    def rows(self) -> list[list[str]]:
        """check, first window, last window, change, target, verdict."""
        growth = self.rss_growth
        rows = [
            [
                "server RSS (mean)",
                f"{self.rss_first:,.0f} MiB",
                f"{self.rss_last:,.0f} MiB",
                f"{self.rss_last - self.rss_first:+,.1f} MiB ({growth:+.1%})",
                f"< {RSS_GROWTH_LIMIT:.0%}",
                verdict(growth, RSS_GROWTH_LIMIT, at_least=False),
            ],
            [
                "errors",
                "",
                "",
                f"{self.http_errors} HTTP, {self.dead_jobs} dead jobs",
                "0",
                verdict(self.http_errors + self.dead_jobs, 0, at_least=False),
            ],
        ]
        for kind, (n_first, first, n_last, last) in self.p99.items():
            judged = self.judged(kind)
            rows.append(
                [
                    f"p99 {kind}",
                    f"{first:,.1f} ms (n={n_first})",
                    f"{last:,.1f} ms (n={n_last})",
                    f"{last / first:.2f}x" if first else "",
                    f"≤ {P99_RATIO_LIMIT}x" if judged else f"not judged (< {MIN_JUDGED} requests)",
                    verdict(last, first * P99_RATIO_LIMIT, at_least=False) if judged else "",
                ]
            )
        return rows

    def _p99_verdict(self) -> str:
        if not any(self.judged(kind) for kind in self.p99):
            return f"not judged (no kind had {MIN_JUDGED} requests in both windows)"
        return "met" if self.p99_met() else "**not met**"

    def summary(self) -> str:
        parts = [
            f"RSS growth {self.rss_growth:+.1%}: {verdict(self.rss_growth, RSS_GROWTH_LIMIT, at_least=False)}",
            f"errors {self.http_errors + self.dead_jobs}: "
            + verdict(self.http_errors + self.dead_jobs, 0, at_least=False),
            "p99 stable: " + self._p99_verdict(),
        ]
        return "; ".join(parts)


def judge(minutes: Sequence[Minute], outcomes: Sequence[Outcome], seconds: float) -> Verdict:
    """Compare the first and last windows of up to 5 minutes each (half the run when it is shorter)."""
    window = max(1, min(5, len(minutes) // 2))
    first_rss = [m.rss_mib for m in minutes[:window]]
    last_rss = [m.rss_mib for m in minutes[-window:]]
    edge = window * 60
    first = [o for o in outcomes if o.end_s < edge]
    last = [o for o in outcomes if o.end_s >= seconds - edge]
    p99: dict[str, tuple[int, float, int, float]] = {}
    for kind in KINDS:
        a = [o.ms for o in first if o.kind == kind and not o.error]
        b = [o.ms for o in last if o.kind == kind and not o.error]
        if a and b:
            p99[kind] = (len(a), percentile(a, 99), len(b), percentile(b, 99))
    error_kinds: dict[str, int] = {}
    for outcome in outcomes:
        if outcome.error:
            key = f"{outcome.kind} {outcome.error}"
            error_kinds[key] = error_kinds.get(key, 0) + 1
    return Verdict(
        window=window,
        rss_first=sum(first_rss) / len(first_rss),
        rss_last=sum(last_rss) / len(last_rss),
        http_errors=sum(error_kinds.values()),
        dead_jobs=minutes[-1].dead_jobs,
        error_kinds=error_kinds,
        p99=p99,
    )


# --- tables ---------------------------------------------------------------------------------------

VERDICT_HEAD = ["check", "first minutes", "last minutes", "change", "target", "verdict"]
KIND_HEAD = ["kind", "requests", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms"]
MINUTE_HEAD = [
    "minute",
    "requests",
    "errors",
    "keyword p99 ms",
    "hybrid p99 ms",
    "upload p99 ms",
    "RSS MiB",
    "fds",
    "queue",
    "server CPU",
    "load",
]


def kind_rows(outcomes: Sequence[Outcome]) -> list[list[str]]:
    """Whole-run latency per kind."""
    rows = []
    for kind in KINDS:
        mine = [o for o in outcomes if o.kind == kind]
        ms = [o.ms for o in mine if not o.error]
        if not mine:
            continue
        cells = [f"{percentile(ms, q):,.1f}" for q in (50, 95, 99)] + [f"{max(ms, default=0):,.1f}"]
        rows.append([kind, str(len(mine)), str(len(mine) - len(ms)), *cells])
    return rows


def minute_rows(minutes: Sequence[Minute]) -> list[list[str]]:
    def p99(m: Minute, kind: str) -> str:
        return f"{m.latency_ms[kind][2]:,.1f}" if kind in m.latency_ms else ""

    return [
        [
            str(m.index + 1),
            str(sum(m.requests.values())),
            str(sum(m.errors.values())),
            p99(m, "keyword"),
            p99(m, "hybrid"),
            p99(m, "upload"),
            f"{m.rss_mib:,.0f}",
            str(m.fds),
            str(m.queue_depth),
            f"{m.server_cores:.2f}",
            f"{m.load1:.1f}",
        ]
        for m in minutes
    ]
