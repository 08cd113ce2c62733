"""Profile ingestion of short passages: a real ``ragworks serve`` fed N WordNet glosses over HTTP, with
py-spy sampling the server (optional), then the time each pipeline stage took from ``/metrics``.
Prints the ingestion figures and the stage table, exits 0::

    .venv/bin/python bench/profile_ingest.py --limit 3000                 # ~1 min
    .venv/bin/python bench/profile_ingest.py --limit 3000 --py-spy        # + .bench/profile-ingest.txt
    RAGWORKS_JOBS__INGEST_BATCH=32 .venv/bin/python bench/profile_ingest.py --limit 3000   # settings

``--py-spy`` needs ``pip install py-spy`` in the venv; its raw output (one stack per line with a count)
feeds flamegraph tools. py-spy pauses the process to sample, so timings with it are ~20 % slower.
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from _common import BENCH_DIR, DATA, Server, http_ingest, print_table, read_docs, wipe


def stage_seconds(url: str) -> list[list[object]]:
    """(stage, batches, seconds summed over lanes) from the ``ingest_stage_duration_seconds`` histogram."""
    text = httpx.get(f"{url}/metrics", timeout=60).text
    sums = dict(re.findall(r'^ingest_stage_duration_seconds_sum\{stage="(\w+)"\} (\S+)$', text, re.M))
    counts = dict(re.findall(r'^ingest_stage_duration_seconds_count\{stage="(\w+)"\} (\S+)$', text, re.M))
    return [[stage, int(float(counts[stage])), f"{float(total):.2f}"] for stage, total in sums.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=3000, help="WordNet glosses to ingest")
    parser.add_argument("--py-spy", action="store_true", help="sample the server with py-spy")
    args = parser.parse_args()
    docs = read_docs(DATA / "scale" / "scale-wordnet-en", args.limit)
    data_dir = BENCH_DIR / "profile-ingest"
    wipe(data_dir)
    server = Server(data_dir)
    server.start()
    spy = None
    output = BENCH_DIR / "profile-ingest.txt"
    if args.py_spy:
        binary = shutil.which("py-spy", path=str(Path(sys.executable).parent))
        if binary is None:
            raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy")
        assert server.process is not None
        command = [binary, "record", "--pid", str(server.process.pid), "-o", str(output)]
        spy = subprocess.Popen([*command, "-f", "raw", "-r", "50", "--threads"], stdout=subprocess.DEVNULL)
    try:
        uploads = [
            {"id": d["id"], "text": d["text"] or d["title"], "title": d["title"] or None} for d in docs
        ]
        result = http_ingest(server, "profile", uploads, batch=1000)
        print(
            f"{result.documents:,} passages ready in {result.seconds:.1f} s "
            f"({result.documents / result.seconds:.0f}/s), server CPU {result.cpu_s:.1f} s, "
            f"uploads {result.upload_s:.1f} s, peak RSS {result.peak_rss_mib:,.0f} MiB"
        )
        print_table(["stage", "batches", "seconds (all lanes)"], stage_seconds(server.url))
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait()
            print(f"py-spy samples: {output}")
        server.stop()


if __name__ == "__main__":
    main()
