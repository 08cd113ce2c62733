"""ragworks against what a team would otherwise build, in one run on the same corpora and the same
MiniLM weights: a FastAPI service around LangChain's EnsembleRetriever (FAISS + BM25Retriever), a Chroma
server behind a FastAPI front that embeds queries, and ``ragworks serve`` — beside the floor: a bare
FastAPI endpoint answering canned bytes, and the index calls alone in-process.

One table: nDCG@10 (SciFact and autorag-ko test splits), ingestion passages/s, throughput at saturation,
p50/p99 at 1 and 8 connections (closed loop, a new query text on every request), server CPU ms per
request (user + system time of the server's process tree, ended children included, from /proc,
before and after each load phase, over the requests answered) and RSS, for ragworks embedded and
scaled (``ragworks up``) and the peers; then ragworks at 32 connections and under a fixed arrival rate
(open loop at 25/50/80 % of saturation, latency from the scheduled send time), and the targets as
met / not met::

    make bench-peers-compare                      # builds the peers' environments, then --docs
    .venv/bin/python bench/peers_compare.py --docs
    .venv/bin/python bench/peers_compare.py --limit 100 --seconds 2 --ndcg-queries 10 --ingest-sample 20

The default run is sized for ~15 min on 2 cores once the indexes are cached: 22 load phases of
``--seconds`` (10 s), 414 test queries per system and mode for nDCG, a 300-passage ingestion sample per
system. Indexes of the full corpora are built once per system over each system's own HTTP ingest route
and cached under ``.bench/peers-compare`` (the first run also ingests SciFact and autorag-ko into every
system, which takes much longer); ragworks' cache waits for the fusion calibration it schedules, so a
run never measures a server that is still calibrating. Ingestion passages/s is measured on every run,
on the first ``--ingest-sample`` SciFact passages into a fresh collection, after a 3-passage warm-up.
The load generator is bench/_peers_load.py in its own process; its CPU per request is reported, since
it shares the 2 cores with the servers. Each system's CPU while no request runs (``idle CPU ms/s``) is
measured just before its load phases, so a background cost inside the per-request figures shows.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path
from typing import Any

from _common import DATA, as_upload, read_docs, section_header, source_key, write_section
from _peers_inprocess import Floor, index_floor
from _peers_measure import (
    Phase,
    QueryPool,
    bodies_for,
    canned_answer,
    drop,
    idle_cpu,
    ingest_peer,
    ndcg,
    run_phase,
    save_peer,
    wait_for_jobs,
    warm,
    warm_ingest,
)
from _peers_report import (
    CLIENTS,
    DEEP_CLIENTS,
    FLOOR_HEAD,
    MAIN_HEAD,
    OPEN_HEAD,
    TARGET_HEAD,
    Row,
    floor_rows,
    main_rows,
    open_rows,
    peer_versions,
    show,
    target_rows,
)
from _peers_store import cached, load_corpora, mark_cached
from _peers_systems import (
    ROOT,
    Service,
    chroma,
    floor,
    langchain,
    peers_available,
    ragworks_embedded,
    ragworks_scaled,
)
from scaled import distinct_queries
from scaled import ingest as ragworks_ingest

SAMPLE = "ingest-sample"
OPEN_SHARES = (0.25, 0.5, 0.8)


class Run:
    """State of one comparison run: corpora, the query pool, options and the rows measured so far."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.corpora = load_corpora(DATA / "eval", args.sets, args.limit, args.ndcg_queries)
        self.queries = QueryPool(distinct_queries(read_docs(DATA / "eval" / "scifact")))
        self.rows: list[Row] = []
        self.open_loop: dict[str, list[tuple[float, Phase]]] = {}
        self.deep: dict[str, Phase] = {}
        self.floors: list[Floor] = []
        self.canned_bytes = 0
        self.ragworks: dict[str, Row] = {}
        self.floor: Row | None = None
        self.budget = int(args.seconds * 1_500)  # bodies per phase: more than any system answers here

    def suffix(self) -> str:
        return "" if self.args.limit is None else f"-{self.args.limit}"

    def closed(self, service: Service, collection: str, mode: str, row: Row, **extra: Any) -> None:
        """Warm-up, then closed loops at 1 and 8 connections; RSS peak over those phases. ``extra``
        request fields go into every body (``highlight=False``)."""
        warm(service, self.queries, collection, mode)
        row.idle_ms_per_s = idle_cpu(service)
        for sampler in service.samplers:
            sampler.reset()
        for clients in CLIENTS:
            bodies = bodies_for(self.queries, collection, mode, self.budget, **extra)
            phase = run_phase(service, self.queries, bodies, self.args.seconds, clients=clients)
            row.phases[clients] = phase
            print(f"  {service.name} {row.mode} x{clients}: {phase.rps:,.0f} req/s, p50 {phase.p(50):.1f} ms, "
                  f"p99 {phase.p(99):.1f} ms, server CPU {phase.cpu_ms:.2f} ms/req, load generator "
                  f"{phase.client_cpu_ms:.2f} ms/req, errors {phase.errors or 0}", flush=True)  # fmt: skip
        row.rss_mib = service.peak_rss_mib()

    def quality(self, service: Service, mode: str, row: Row) -> None:
        for corpus in self.corpora:
            row.ndcg[corpus.name] = ndcg(service, corpus.name, corpus.queries, corpus.qrels, mode)
        print(f"  {service.name} {mode} nDCG@10: {row.ndcg}", flush=True)


def ragworks_cache(run: Run) -> Path:
    """The cached data dir of ``ragworks serve`` holding every corpus, built now when missing or stale."""
    cache = ROOT / f"ragworks{run.suffix()}"
    facts = {"passages": {c.name: len(c.documents) for c in run.corpora}, "source_key": source_key()}
    if not cached(cache, facts):
        shutil.rmtree(cache, ignore_errors=True)
        with ragworks_embedded(cache) as service:
            ingest_corpora(run, service)
        mark_cached(cache, facts)
    return cache


def ingest_corpora(run: Run, service: Service) -> None:
    """Every corpus into its own collection of a ragworks server, and the jobs that follow (the fusion
    calibration of each collection is part of the cached index)."""
    for corpus in run.corpora:
        print(f"{service.name}: ingesting {len(corpus.documents):,} {corpus.name} passages (cached after) ...",
              flush=True)  # fmt: skip
        ragworks_ingest(service.url, corpus.name, [as_upload(d) for d in corpus.documents])
    wait_for_jobs(service.url)


def ragworks_part(run: Run) -> None:
    """``ragworks serve`` on a scratch copy of the cached data dir; then the floors beside it."""
    cache = ragworks_cache(run)
    scratch = ROOT / "scratch-ragworks"
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(cache, scratch, ignore=shutil.ignore_patterns(".lock"))
    answer = ROOT / "canned-answer.json"
    rows: dict[str, Row] = {}
    try:
        with ragworks_embedded(scratch) as service:
            warm_ingest(service, [as_upload(d) for d in run.corpora[0].documents[-3:]], ragworks=True)
            sample = [as_upload(d) for d in run.corpora[0].documents[: run.args.ingest_sample]]
            rate = ragworks_ingest(service.url, SAMPLE, sample)
            print(f"ragworks embedded: {rate:.1f} passages/s on {len(sample)} passages", flush=True)
            drop(service, SAMPLE)  # its fusion calibration, due now, would only cost time
            print(
                f"  background jobs after the sample done in {wait_for_jobs(service.url):.0f} s", flush=True
            )
            run.canned_bytes = canned_answer(service, "scifact", "protein folding in the cell", answer)
            for mode in ("keyword", "vector", "hybrid"):
                rows[mode] = Row("ragworks embedded", mode, ingest_rate=rate)
                run.quality(service, mode, rows[mode])
                run.closed(service, "scifact", mode, rows[mode])
            # highlights are on by default and no peer makes them: the same search without them
            plain = Row(
                "ragworks embedded", "keyword, highlight off", ingest_rate=rate, ndcg=rows["keyword"].ndcg
            )
            run.closed(service, "scifact", "keyword", plain, highlight=False)
            for mode in ("vector", "hybrid"):  # each request waits for the query embedder's queue
                bodies = bodies_for(run.queries, "scifact", mode, run.budget)
                phase = run_phase(service, run.queries, bodies, run.args.seconds, clients=DEEP_CLIENTS)
                run.deep[mode] = phase
                print(f"  deep queue {mode} x{DEEP_CLIENTS}: {phase.rps:,.0f} req/s, p50 {phase.p(50):.1f} ms, "
                      f"p99 {phase.p(99):.1f} ms, max {max(phase.latencies_ms, default=0):.1f} ms", flush=True)  # fmt: skip
            for mode in ("keyword", "hybrid"):
                sat = rows[mode].phases[8].rps
                run.open_loop[mode] = []
                for share in OPEN_SHARES:
                    bodies = bodies_for(run.queries, "scifact", mode, int(sat * share * run.args.seconds) + 1)
                    phase = run_phase(service, run.queries, bodies, run.args.seconds, rate=sat * share)
                    run.open_loop[mode].append((share, phase))
                    print(f"  open loop {mode} {share:.0%} ({sat * share:.0f}/s): p50 {phase.p(50):.1f} ms, "
                          f"p99 {phase.p(99):.1f} ms, {phase.rps:.0f} answered/s", flush=True)  # fmt: skip
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    run.rows += [*rows.values(), plain]
    run.ragworks = rows
    with floor(answer) as service:
        row = Row("bare FastAPI floor", f"canned {run.canned_bytes:,} B")
        run.closed(service, "scifact", "keyword", row)
        run.rows.append(row)
        run.floor = row
    texts = run.queries.peek(run.args.inprocess_calls)
    run.queries.advance(len(texts))
    run.floors = index_floor(cache, "scifact", texts)


def scaled_part(run: Run, *, prepare: bool = False) -> None:
    """``ragworks up`` on its cached folder (both corpora ingested once, kept while the index-relevant
    source is unchanged): ingestion sample, quality and closed loops as the embedded row."""
    cache = ROOT / f"scaled{run.suffix()}"
    facts = {"passages": {c.name: len(c.documents) for c in run.corpora}, "source_key": source_key()}
    fresh = not cached(cache, facts)
    if fresh:
        shutil.rmtree(cache, ignore_errors=True)
    with ragworks_scaled(cache) as service:
        if fresh:
            ingest_corpora(run, service)
            mark_cached(cache, facts)
        if prepare:
            return
        warm_ingest(service, [as_upload(d) for d in run.corpora[0].documents[-3:]], ragworks=True)
        drop(service, "warm-up")  # the folder is kept: leave only the corpora in it
        sample = [as_upload(d) for d in run.corpora[0].documents[: run.args.ingest_sample]]
        rate = ragworks_ingest(service.url, SAMPLE, sample)
        print(f"ragworks scaled: {rate:.1f} passages/s on {len(sample)} passages", flush=True)
        drop(service, SAMPLE)
        wait_for_jobs(service.url)
        for mode in ("keyword", "vector", "hybrid"):
            row = Row(service.name, mode, ingest_rate=rate)
            run.quality(service, mode, row)
            run.closed(service, "scifact", mode, row)
            run.rows.append(row)


def peer_part(run: Run, name: str, modes: tuple[str, ...], *, prepare: bool = False) -> None:
    """One peer: its cached full index (built now when missing), ingestion sample, quality, load;
    with ``prepare``, only the index."""
    cache = ROOT / f"{name}{run.suffix()}"
    facts = {"passages": {c.name: len(c.documents) for c in run.corpora}}
    fresh = not cached(cache, facts)
    if fresh:
        shutil.rmtree(cache, ignore_errors=True)
    start = langchain if name == "langchain" else chroma
    with start(cache) as service:
        if fresh:
            for corpus in run.corpora:
                print(
                    f"{service.name}: indexing {len(corpus.documents):,} {corpus.name} passages (cached after) ...",
                    flush=True,
                )
                ingest_peer(service, corpus.name, [as_upload(d) for d in corpus.documents])
                if name == "langchain":
                    save_peer(service, corpus.name)
            mark_cached(cache, facts)
        if prepare:
            return
        warm_ingest(service, [as_upload(d) for d in run.corpora[0].documents[-3:]], ragworks=False)
        drop(service, "warm-up")
        sample = [as_upload(d) for d in run.corpora[0].documents[: run.args.ingest_sample]]
        rate = ingest_peer(service, SAMPLE, sample)
        drop(service, SAMPLE)
        print(f"{service.name}: {rate:.1f} passages/s on {len(sample)} passages", flush=True)
        for mode in modes:
            row = Row(service.name, mode, ingest_rate=rate)
            run.quality(service, mode, row)
            run.closed(service, "scifact", mode, row)
            run.rows.append(row)


def report(run: Run, started: float, skipped: dict[str, str]) -> None:
    for system, why in skipped.items():
        run.rows.append(Row(system, "—", note=f"not measured: {why}"))
    ragworks = run.ragworks
    body = show("Peer comparison (SciFact load, closed loop)", MAIN_HEAD, main_rows(run.rows))
    if run.open_loop or run.deep:
        body += show(f"ragworks with a deep queue ({DEEP_CLIENTS} connections) and under a fixed arrival rate "
                     "(open loop, latency from the scheduled send)",
                     OPEN_HEAD, open_rows(run.open_loop, ragworks, run.deep))  # fmt: skip
    if run.floors:
        body += show(
            "The index calls alone, in-process (SciFact collection, one thread)",
            FLOOR_HEAD,
            floor_rows(run.floors),
        )
    body += show(
        "Targets (judged on the dearer of 1 and 8 connections)", TARGET_HEAD, target_rows(ragworks, run.floor)
    )
    loader = [p.client_cpu_ms for r in run.rows for p in r.phases.values()]
    overhead = f"{min(loader):.2f}-{max(loader):.2f}" if loader else "—"
    print(f"\nload generator CPU per request: {overhead} ms")
    versions = peer_versions()
    print(f"peers: {versions}")
    if run.args.docs:
        notes = (
            f"Corpora: {', '.join(f'{c.name} ({len(c.documents):,} passages, {len(c.queries)} test queries)' for c in run.corpora)}. "
            f"Load phases on SciFact, {run.args.seconds:.0f} s each after 20 warm-up requests, every request a query "
            "text no other request of the run sent; top_k 10. Server CPU per request is user + system time of "
            "every process serving and of its ended children (for Chroma: `chroma run` and its front; for the "
            "scaled stack PostgreSQL, Redis, the API and the worker) from /proc before and after a phase, over "
            f"the requests of the phase. The load generator (bench/_peers_load.py, raw asyncio HTTP/1.1) runs in "
            f"its own process on the same 2 cores and cost {overhead} ms CPU per request. Ingestion: the first "
            f"{run.args.ingest_sample} SciFact passages into a fresh collection, until searchable. Peer versions: {versions}."
        )  # fmt: skip
        write_section("peers-compare", section_header("ragworks against its peers", started, notes) + body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["scifact", "autorag-ko"])
    parser.add_argument("--limit", type=int, default=None, help="passages per corpus (smoke runs)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each load phase")
    parser.add_argument("--ingest-sample", type=int, default=300, help="SciFact passages for ingestion rate")
    parser.add_argument(
        "--ndcg-queries", type=int, default=None, help="test queries per set (all by default)"
    )
    parser.add_argument("--inprocess-calls", type=int, default=600, help="queries for the in-process floor")
    parser.add_argument("--systems", nargs="+", default=["ragworks", "scaled", "langchain", "chroma"])
    parser.add_argument("--docs", action="store_true", help="rewrite the 'peers-compare' section of the docs")
    parser.add_argument(
        "--prepare",
        action="store_true",
        help="only build the systems' missing indexes (cached for later runs)",
    )
    args = parser.parse_args()
    started = time.time()
    run = Run(args)
    skipped: dict[str, str] = {}
    missing = peers_available()
    if args.prepare:
        if "ragworks" in args.systems:
            print(f"ragworks index: {ragworks_cache(run)}", flush=True)
        if "scaled" in args.systems:
            scaled_part(run, prepare=True)
        for name in [n for n in ("langchain", "chroma") if n in args.systems and n not in missing]:
            peer_part(run, name, (), prepare=True)
        return
    if "ragworks" in args.systems:
        ragworks_part(run)
    if "scaled" in args.systems:
        scaled_part(run)
    for name, modes in (("langchain", ("keyword", "vector", "hybrid")), ("chroma", ("vector",))):
        if name not in args.systems:
            continue
        if name in missing:
            skipped[name] = missing[name]
            continue
        peer_part(run, name, modes)
    report(run, started, skipped)


if __name__ == "__main__":
    main()
