"""Soak: a real ``ragworks serve`` under a steady mixed load for a long time, watched minute by minute
for the slow failures a short benchmark cannot see: memory that creeps up, descriptors that leak, a
queue that falls behind, latency that drifts, the odd error.

    .venv/bin/python bench/soak.py                         # 30 minutes (+ ~2 min seeding), prints only
    .venv/bin/python bench/soak.py --write-docs            # the same, then rewrites the 'soak' section
    .venv/bin/python bench/soak.py --minutes 2 --seed-docs 300   # a quick check: ~4 min on a quiet host

The server is embedded (API and workers in one process) on its own data dir under /tmp, removed at the
end (``--keep-data`` keeps it). It is seeded with SciFact abstracts, warmed up, then driven open-loop at
fixed arrival rates (``BASE_RATES`` in bench/_soak_load.py, times ``--rate``): keyword and hybrid
retrieves, one-document uploads, a delete and re-upload of the same id, summarize and answer with the
bundled model (``--llm extractive`` for none). Every minute it prints requests and errors by kind,
latency, the server's RSS, open descriptors, job queue depth and CPU; at the end the verdict against the
issue's targets: RSS growth under 10 % between the first and last 5 minutes, no error, last-5-minute
p99 within 1.5x of the first. The figures are also kept in ``.bench/soak-*.json``. Exits 0 whatever
the verdict.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from _common import (
    BENCH_DIR,
    DATA,
    Server,
    as_upload,
    http_ingest,
    md_table,
    print_table,
    read_docs,
    section_header,
    write_section,
)
from _soak_load import BASE_RATES, COLLECTION, Driver, Recorder, Workload, drive, query_pool
from _soak_report import (
    KIND_HEAD,
    MINUTE_HEAD,
    VERDICT_HEAD,
    Minute,
    Probe,
    Verdict,
    judge,
    kind_rows,
    minute_line,
    minute_rows,
)

SCIFACT = DATA / "eval" / "scifact"
FULL_MINUTES = 30
RSS_EVERY_S = 5.0


@dataclasses.dataclass
class Run:
    """Everything the report needs from one soak."""

    minutes: list[Minute]
    recorder: Recorder
    verdict: Verdict
    drained_s: float | None  # how long the queue took to empty after the load stopped
    queries_wrapped: bool
    dead_reasons: dict[str, int]  # why jobs died, e.g. 'document.ingest not_found (NotFound)'
    dead_example: dict[str, str]  # one message of each reason


async def prime(driver: Driver) -> None:
    """One request of each action, one after another: a server that refuses one fails here, in
    seconds, rather than as a long run full of errors."""
    for name, action in driver.actions().items():
        await action(time.perf_counter())
        failed = [o for o in driver.recorder.outcomes if o.error]
        if failed:
            raise SystemExit(f"the first {name} request failed ({failed[0].error}); see .bench/logs")


async def monitor(probe: Probe, recorder: Recorder, load: asyncio.Task[None], minutes: int) -> list[Minute]:
    """Close each minute at its end (the last one once the load's stragglers have answered)."""
    records: list[Minute] = []
    for index in range(minutes):
        boundary = recorder.origin + 60 * (index + 1)
        while (left := boundary - time.perf_counter()) > 0:
            await asyncio.sleep(min(RSS_EVERY_S, left))
            probe.sample_rss()
        last = index == minutes - 1
        if last:
            await load
        low, high = index * 60, float("inf") if last else (index + 1) * 60
        finished = [o for o in recorder.outcomes if low <= o.end_s < high]
        records.append(await probe.close_minute(index, finished))
        print(minute_line(records[-1]), flush=True)
    return records


async def drained(probe: Probe, limit_s: float = 300) -> float | None:
    """Seconds until no job is queued or running once the load has stopped (None: not within limit_s)."""
    began = time.perf_counter()
    while time.perf_counter() - began < limit_s:
        if (await probe.overview())[0] == 0:
            return time.perf_counter() - began
        await asyncio.sleep(1)
    return None


async def dead_jobs(admin: httpx.AsyncClient, since: float) -> tuple[dict[str, int], dict[str, str]]:
    """Jobs created since ``since`` (Unix time) that died, counted by reason, with one message each."""
    params: dict[str, Any] = {"status": "dead", "since": since, "limit": 500}
    jobs = (await admin.get("/v1/jobs", params=params)).json()["jobs"]
    counts: dict[str, int] = {}
    examples: dict[str, str] = {}
    for job in jobs:
        last = (job.get("history") or [{}])[-1]
        reason = f"{job['kind']} {last.get('error_type', '?')} ({last.get('error_class', '?')})"
        counts[reason] = counts.get(reason, 0) + 1
        examples.setdefault(reason, str(last.get("message", ""))[:200])
    return counts, examples


async def soak(server: Server, work: Workload, args: argparse.Namespace) -> Run:
    began = time.time()
    rates = {name: rate * args.rate for name, rate in BASE_RATES.items()}
    limits = httpx.Limits(max_connections=args.max_in_flight, max_keepalive_connections=args.max_in_flight)
    async with (
        httpx.AsyncClient(base_url=server.url, timeout=120, limits=limits) as client,
        httpx.AsyncClient(base_url=server.url, timeout=60) as admin,
    ):
        await prime(Driver(client, work, Recorder(time.perf_counter())))
        print(f"warm-up: {args.warmup_s:.0f} s at the same rates, not recorded", flush=True)
        await drive(
            Driver(client, work, Recorder(time.perf_counter())), rates, args.warmup_s, args.max_in_flight
        )
        assert server.process is not None
        probe = Probe(server.process.pid, server.data_dir, admin)
        await probe.start()
        recorder = Recorder(time.perf_counter())
        seconds = args.minutes * 60
        load = asyncio.create_task(drive(Driver(client, work, recorder), rates, seconds, args.max_in_flight))
        minutes = await monitor(probe, recorder, load, args.minutes)
        drain_s = await drained(probe)
        reasons, examples = await dead_jobs(admin, began)
    return Run(
        minutes=minutes,
        recorder=recorder,
        verdict=judge(minutes, recorder.outcomes, seconds),
        drained_s=drain_s,
        queries_wrapped=work.queries_used > work.query_count,
        dead_reasons=reasons,
        dead_example=examples,
    )


def rate_text(per_s: float) -> str:
    """'4/s' for frequent actions, '2/min' for rare ones."""
    return f"{per_s:g}/s" if per_s >= 1 else f"{per_s * 60:.3g}/min"


def offered(args: argparse.Namespace) -> str:
    """The arrival rates of this run, e.g. 'keyword 4/s, ..., answer 1/min'."""
    return ", ".join(f"{name} {rate_text(rate * args.rate)}" for name, rate in BASE_RATES.items())


def describe(args: argparse.Namespace, seed_chunks: int, seed_dead: int, run: Run) -> str:
    """The notes under the docs section's heading: what ran, and how to read the figures."""
    total = sum(BASE_RATES.values()) * args.rate
    if run.drained_s is None:
        drain = "was still not empty after 300 s"
    else:
        drain = "was empty" if run.drained_s < 1 else f"emptied in {run.drained_s:.0f} s"
    window = run.verdict.window
    compared = "minute" if window == 1 else f"{window} minutes"
    llm = "the bundled Gemma 3 270M (llama.cpp, loaded at start)" if args.llm == "llamacpp" else "no model"
    return (
        f"`ragworks serve` (embedded: API and workers in one process) on a fresh data dir under /tmp, "
        f"summarize and answer with {llm}; seeded with {args.seed_docs:,} SciFact abstracts "
        f"({seed_chunks:,} chunks, {seed_dead} dead) before the clock starts, then {args.warmup_s:.0f} s of "
        f"warm-up at the same rates, not recorded. Open-loop load at fixed arrival rates ({offered(args)}; "
        f"{total:.2f} actions/s, a churn being a DELETE then a POST of the same id) from one "
        f"async httpx client in the benchmark process on the same cores. Latency runs from the moment a "
        f"request was due, so waiting in the client counts; an upload's is the time to its 202, its "
        f"ingestion shows in the queue column. Errors: any non-2xx answer, transport error or request "
        f"not sent because {args.max_in_flight} were in flight, plus ingest jobs that died. RSS is the "
        f"server's VmRSS (mean of samples every {RSS_EVERY_S:.0f} s; its child processes are not counted); "
        f"the verdict compares the first and last {compared}. After the load the queue "
        f"{drain}."
        + (" The query pool ran out, so later queries repeat earlier ones." if run.queries_wrapped else "")
    )


def report(args: argparse.Namespace, run: Run, started: float, seed: tuple[int, int]) -> None:
    verdict_rows, kinds, per_minute = (
        run.verdict.rows(),
        kind_rows(run.recorder.outcomes),
        minute_rows(run.minutes),
    )
    print()
    print_table(VERDICT_HEAD, [[cell.replace("**", "") for cell in row] for row in verdict_rows])
    print()
    print_table(KIND_HEAD, kinds)
    for error, count in run.verdict.error_kinds.items():
        print(f"  error: {error} x{count}")
    for reason, count in run.dead_reasons.items():
        print(f"  dead job: {reason} x{count}, e.g. {run.dead_example[reason]!r}")
    print("\nverdict: " + run.verdict.summary().replace("**", ""))
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(started))
    saved = BENCH_DIR / f"soak-{stamp}.json"
    saved.parent.mkdir(parents=True, exist_ok=True)
    facts: dict[str, Any] = {
        "args": vars(args),
        "minutes": [dataclasses.asdict(m) for m in run.minutes],
        "verdict": dataclasses.asdict(run.verdict),
        "kinds": kinds,
        "drained_s": run.drained_s,
        "dead_reasons": run.dead_reasons,
        "dead_example": run.dead_example,
    }
    saved.write_text(json.dumps(facts, indent=2))
    print(f"figures kept in {saved}")
    if not args.write_docs:
        return
    if args.minutes >= FULL_MINUTES:
        title = f"Soak: {args.minutes} minutes of mixed load"
    else:
        title = f"Soak: a {args.minutes}-minute check (the full soak, `make bench-soak`, runs {FULL_MINUTES})"
    body = section_header(title, started, describe(args, *seed, run))
    body += "\n" + md_table(VERDICT_HEAD, verdict_rows)
    body += f"\nVerdict: {run.verdict.summary()}.\n"
    if run.verdict.error_kinds:
        body += "\nErrors: " + ", ".join(f"{e} x{n}" for e, n in run.verdict.error_kinds.items()) + ".\n"
    if run.dead_reasons:
        body += "\nDead jobs: " + "; ".join(
            f"{reason} x{n}, e.g. “{run.dead_example[reason]}”" for reason, n in run.dead_reasons.items()
        )
        body += ".\n"
    body += "\nWhole run, by kind:\n\n" + md_table(KIND_HEAD, kinds)
    body += "\nMinute by minute:\n\n" + md_table(MINUTE_HEAD, per_minute)
    write_section("soak", body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=FULL_MINUTES, help="measured minutes (at least 2)")
    parser.add_argument("--rate", type=float, default=1.0, help="multiplies every arrival rate")
    parser.add_argument("--seed-docs", type=int, default=1000, help="SciFact abstracts ingested first")
    parser.add_argument("--warmup-s", type=float, default=30, help="unrecorded load before the clock starts")
    parser.add_argument("--llm", choices=["llamacpp", "extractive"], default="llamacpp")
    parser.add_argument("--max-in-flight", type=int, default=64, help="outstanding requests at most")
    parser.add_argument("--keep-data", action="store_true", help="leave the data dir under /tmp")
    parser.add_argument(
        "--write-docs", "--docs", dest="write_docs", action="store_true", help="rewrite the 'soak' section"
    )
    args = parser.parse_args()
    if args.minutes < 2:
        parser.error("--minutes must be at least 2 (the verdict compares a first and a last minute)")
    started = time.time()
    corpus = read_docs(SCIFACT)
    work = Workload(corpus, args.seed_docs, query_pool(SCIFACT, corpus))
    data_dir = Path(tempfile.mkdtemp(prefix="ragworks-soak-", dir="/tmp"))
    env = {"RAGWORKS_LLM__PROVIDER": args.llm, "RAGWORKS_LLM__LOAD": "start"}
    server = Server(data_dir, env=env)
    try:
        server.start()
        print(f"seeding {args.seed_docs:,} SciFact abstracts into {data_dir} ...", flush=True)
        seeded = http_ingest(server, COLLECTION, [as_upload(d) for d in corpus[: args.seed_docs]])
        print(f"seeded in {seeded.seconds:,.0f} s: {seeded.chunks:,} chunks, {seeded.dead} dead", flush=True)
        print(f"load for {args.minutes} min: {offered(args)}", flush=True)
        run = asyncio.run(soak(server, work, args))
    finally:
        server.stop()
        if not args.keep_data:
            shutil.rmtree(data_dir, ignore_errors=True)
    report(args, run, started, (seeded.chunks, seeded.dead))


if __name__ == "__main__":
    main()
