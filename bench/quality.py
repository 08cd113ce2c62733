"""Retrieval quality: ``ragworks eval`` on every set in ``../shared/data/eval`` for keyword, vector and
hybrid — nDCG@10, recall@10, recall@100, MRR — beside the published figures of ``../shared/data/README.md``.
Prints a table, exits 0::

    .venv/bin/python bench/quality.py                      # all three sets: ~25 min on 2 cores (fresh)
    .venv/bin/python bench/quality.py --sets autorag-ko    # smoke: ~3 min
    .venv/bin/python bench/quality.py --docs               # also rewrite the 'quality' section of the docs

Hybrid is measured three ways per set: as served by default (min-max, each query's vector weight moved
by the embedder's confidence, ``search.weight_by_confidence``), with one fixed weight for every query
(``search.vector_weight``, 0.5), and with the fusion the collection calibrates from pseudo-queries of
its own documents (``--calibration``; the line "fusion: ..." says what it chose and how).

Each set is ingested by ``ragworks eval --data-dir .bench/eval-SET``; an index is reused only when it was
built by the same index-relevant source (src/ragworks ingest, engines, config and domain, hashed) — for
SciFact that includes the data dir bench/ingest.py leaves behind, so ``make bench`` ingests SciFact once.
``--fresh`` always re-ingests; ``--reuse`` takes any finished cached index (the table says which).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import (
    BENCH_DIR,
    DATA,
    MODES,
    REPO,
    RssSampler,
    md_table,
    print_table,
    read_stamp,
    section_header,
    source_key,
    wipe,
    write_section,
    write_stamp,
)

SETS = ("scifact", "msmarco-subset", "autorag-ko")
PUBLISHED = {  # nDCG@10 from ../shared/data/README.md ("here" = measured on this machine by its authors)
    "scifact": {
        "keyword": "BM25 0.665 (BEIR) / 0.679 (Anserini); bm25s 0.686 here",
        "vector": "all-MiniLM-L6-v2 0.645",
        "hybrid": "RRF 0.717, min-max up to 0.730 here; BM25 + bge-base RRF 0.742 (Pyserini)",
    },
    "msmarco-subset": {"keyword": "bm25s ~0.62 here", "vector": "—", "hybrid": "—"},
    "autorag-ko": {
        "keyword": "BM25 without morphology 0.650; Kiwi-BM25 ~0.94 (0.936 here)",
        "vector": "MiniLM 0.062 here (the model does not read Korean)",
        "hybrid": "plain RRF 0.345 here; bge-m3 0.830, KURE-v1 0.871",
    },
}


def corpus_size(root: Path) -> int:
    with (root / "corpus.jsonl").open(encoding="utf-8") as lines:
        return sum(1 for line in lines if line.strip())


def data_dir_for(name: str, passages: int, fresh: bool, reuse_any: bool) -> tuple[Path, str]:
    """(data dir, how it was reused or ''): an index built by the same index-relevant source (any finished
    one with ``reuse_any``), else a wiped dir to ingest into."""
    candidates = [BENCH_DIR / "scifact"] if name == "scifact" else []
    candidates.append(BENCH_DIR / f"eval-{name}")
    if not fresh:
        for candidate in candidates:
            stamp = read_stamp(candidate)
            if not stamp or stamp.get("passages") != passages:
                continue
            same = stamp.get("source_key") == source_key()
            if same or reuse_any:
                how = "same index source" if same else "index source changed since"
                took = f", ingested in {stamp['ingest_s']:,.0f} s" if stamp.get("ingest_s") else ""
                return candidate, f"reused {candidate.name}, built at {stamp.get('revision')}{took} ({how})"
    target = candidates[-1]
    wipe(target)
    return target, ""


FIXED, CALIBRATED = "hybrid (fixed weight)", "hybrid (calibrated)"
VARIANTS = {  # label: (extra arguments, environment)
    FIXED: ([], {"RAGWORKS_SEARCH__WEIGHT_BY_CONFIDENCE": "false"}),
    CALIBRATED: (["--calibration"], {}),
}


def hybrid_variant(root: Path, split: str, data_dir: Path, label: str) -> tuple[dict[str, float] | None, str]:
    """Hybrid metrics of the index in ``data_dir`` fused another way, and its "fusion: ..." line."""
    extra, env = VARIANTS[label]
    command = [sys.executable, "-m", "ragworks", "eval", str(root), "--split", split, "--mode", "hybrid"]
    command += ["--data-dir", str(data_dir), "--json", *extra]
    done = subprocess.run(
        command, capture_output=True, text=True, cwd=REPO, check=False, env={**os.environ, **env}
    )
    if done.returncode != 0:
        print(f"  {label} failed ({done.returncode}):\n{done.stderr[-2000:]}")
        return None, "failed"
    report: dict[str, dict[str, float]] = json.loads(done.stdout.strip().splitlines()[-1])
    fusion = re.search(r"^fusion: (.*)$", done.stderr, re.MULTILINE)
    return report["hybrid"], fusion.group(1) if fusion else "?"


def run_eval(name: str, split: str, fresh: bool, reuse_any: bool) -> dict[str, Any]:
    root = DATA / "eval" / name
    passages = corpus_size(root)
    data_dir, reused = data_dir_for(name, passages, fresh, reuse_any)
    command = [sys.executable, "-m", "ragworks", "eval", str(root), "--split", split]
    command += ["--data-dir", str(data_dir), "--json"]
    print(f"{name}: {'reusing' if reused else 'ingesting into'} {data_dir.relative_to(REPO)} ...", flush=True)
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    sampler = RssSampler(process.pid)
    out, err = process.communicate()
    peak, _ = sampler.peak()
    sampler.stop()
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        print(f"  ragworks eval failed ({process.returncode}):\n{err[-3000:]}")
        return {"name": name, "error": f"exit {process.returncode}"}
    ingested = re.search(r"ingested in ([\d.]+) s", err)
    if not reused:
        write_stamp(
            data_dir, {"passages": passages, "ingest_s": float(ingested.group(1)) if ingested else None}
        )
    report: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    print(f"  done in {seconds:,.0f} s", flush=True)
    calibrated_fusion = "?"
    for label in VARIANTS:
        metrics, fusion = hybrid_variant(root, split, data_dir, label)
        if metrics is not None:
            report[label] = metrics
        if label == CALIBRATED:
            calibrated_fusion = fusion
    return {
        "name": name,
        "passages": passages,
        "report": report,
        "ingest_s": float(ingested.group(1)) if ingested else None,
        "seconds": seconds,
        "peak_rss_mib": peak,
        "reused": reused,
        "fusion": calibrated_fusion,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS))
    parser.add_argument("--split", default="test")
    parser.add_argument("--fresh", action="store_true", help="re-ingest even when an index can be reused")
    parser.add_argument(
        "--reuse", action="store_true", help="reuse any finished cached index, even one built by other code"
    )
    parser.add_argument("--docs", action="store_true", help="rewrite the 'quality' section of the docs")
    args = parser.parse_args()
    started = time.time()
    results = [run_eval(name, args.split, args.fresh, args.reuse) for name in args.sets]

    head = ["set", "mode", "nDCG@10", "recall@10", "recall@100", "MRR", "ms/query", "published nDCG@10"]
    rows: list[list[Any]] = []
    runs: list[list[Any]] = []
    for result in results:
        if "report" not in result:
            rows.append([result["name"], "failed", result["error"], "", "", "", "", ""])
            continue
        for mode in (*MODES, *VARIANTS):
            m = result["report"].get(mode)
            if m is None:
                continue
            rows.append(
                [
                    result["name"],
                    mode,
                    f"**{m['ndcg@10']:.3f}**",
                    f"{m['recall@10']:.3f}",
                    f"{m['recall@100']:.3f}",
                    f"{m['mrr']:.3f}",
                    f"{m['ms_per_query']:.1f}",
                    PUBLISHED[result["name"]].get(mode, "—"),
                ]
            )
        ingest = result["ingest_s"]
        runs.append(
            [
                result["name"],
                f"{result['passages']:,}",
                result["reused"] or (f"{ingest:,.0f} s" if ingest else "?"),
                f"{result['seconds']:,.0f} s",
                f"{result['peak_rss_mib']:,.0f}",
            ]
        )
    print()
    print_table(head, [[str(c).replace("**", "") for c in row] for row in rows])
    run_head = ["set", "passages", "ingestion", "whole eval", "peak RSS MiB (eval process)"]
    print()
    print_table(run_head, runs)
    fusion_head = ["set", "what the calibration chose (without labels)"]
    fusions = [[r["name"], r.get("fusion", "failed")] for r in results]
    print()
    print_table(fusion_head, fusions)
    if args.docs:
        notes = (
            f"`ragworks eval` (split `{args.split}`) per set, in-process: the corpus goes through the real "
            "pipeline into a scratch collection and documents are ranked by their best chunk (top 300 "
            "chunks per query). `hybrid` is the default fusion: min-max with each query's vector weight "
            "moved by the embedder's confidence (0.5 + 1.75 × (best cosine − 0.6), within 0.1–0.9, chosen on "
            "SciFact's training queries); `hybrid (fixed weight)` gives every query 0.5; `hybrid (calibrated)` "
            "uses the fusion the collection chose from pseudo-queries of its own chunks (no labels), all on "
            "the same index. Published figures are nDCG@10 from `../shared/data/README.md`. ms/query is "
            "the in-process time per query during the evaluation. The last table says which indexes were "
            "reused from an earlier run (for SciFact, the one bench/ingest.py built over HTTP)."
        )
        body = section_header("Retrieval quality on every evaluation set", started, notes)
        body += "\n" + md_table(head, rows) + "\n" + md_table(fusion_head, fusions)
        body += "\n" + md_table(run_head, runs)
        write_section("quality", body)


if __name__ == "__main__":
    main()
