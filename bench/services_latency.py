"""AI service latency over HTTP on the embedded profile: answer time-to-first-token and total time
(streamed), and complete p50/p95, against a real ``ragworks serve`` with the bundled Gemma 3 270M.

    .venv/bin/python bench/services_latency.py                 # 500 SciFact abstracts, 20 answers, 60 completions
    .venv/bin/python bench/services_latency.py --quick         # 100 abstracts, 5 answers, 10 completions

Each call is made one at a time (one client), so the figures are the latency one user sees.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Any

import httpx

from _common import (
    BENCH_DIR,
    DATA,
    Server,
    http_ingest,
    md_table,
    percentile,
    print_table,
    section_header,
    write_section,
)

SCIFACT = DATA / "eval" / "scifact"


def read_jsonl(path: Path, limit: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            rows.append(json.loads(line))
            if len(rows) >= limit:
                break
    return rows


def streamed_answer(client: httpx.Client, question: str, collection: str) -> dict[str, float]:
    """One streamed /v1/answer call: seconds to the first token event and to the done event."""
    body = {"question": question, "collections": [collection], "max_tokens": 96, "stream": True}
    started = time.perf_counter()
    first: float | None = None
    tokens = 0
    event = ""
    with client.stream("POST", "/v1/answer", json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "token":
                tokens += 1
                if first is None:
                    first = time.perf_counter() - started
            elif line.startswith("data: ") and event == "error":
                raise RuntimeError(f"answer failed: {line}")
    total = time.perf_counter() - started
    return {"ttft": first if first is not None else total, "total": total, "tokens": tokens}


def completion(client: httpx.Client, prefix: str, collection: str | None) -> float:
    body: dict[str, Any] = {"prefix": prefix, "n": 3}
    if collection:
        body["collections"] = [collection]
    started = time.perf_counter()
    response = client.post("/v1/complete", json=body)
    response.raise_for_status()
    return time.perf_counter() - started


def prefixes(queries: list[dict[str, Any]], count: int) -> list[str]:
    """The first half of each query's words: what a user has typed so far."""
    out = []
    for query in queries:
        words = query["text"].split()
        if len(words) >= 4:
            out.append(" ".join(words[: len(words) // 2]))
        if len(out) == count:
            break
    return out


def summary_row(name: str, samples: list[float]) -> list[str]:
    ms = [s * 1000 for s in samples]
    return [name, str(len(ms)), f"{percentile(ms, 50):.0f}", f"{percentile(ms, 95):.0f}", f"{max(ms):.0f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--docs", type=int, default=500, help="SciFact abstracts to ingest")
    parser.add_argument("--answers", type=int, default=20, help="streamed answer calls")
    parser.add_argument("--completions", type=int, default=60, help="complete calls per variant")
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    if args.quick:
        args.docs, args.answers, args.completions = 100, 5, 10
    started = time.time()
    data_dir = BENCH_DIR / "services"
    shutil.rmtree(data_dir, ignore_errors=True)
    queries = read_jsonl(SCIFACT / "queries.jsonl", 1000)
    documents = [
        {"id": d["_id"], "title": d.get("title") or None, "text": d["text"]}
        for d in read_jsonl(SCIFACT / "corpus.jsonl", args.docs)
    ]
    env = {"RAGWORKS_LLM__PROVIDER": "llamacpp"}
    with Server(data_dir, env=env) as server, httpx.Client(base_url=server.url, timeout=600) as client:
        ingest = http_ingest(server, "scifact", documents)
        print(f"ingested {ingest.documents} abstracts ({ingest.chunks} chunks) in {ingest.seconds:.0f} s")
        streamed_answer(client, "warm-up question about cells", "scifact")  # loads and warms the model
        answers = [streamed_answer(client, q["text"], "scifact") for q in queries[: args.answers]]
        typed = prefixes(queries[args.answers :], args.completions)
        completion(client, typed[0], None)
        plain = [completion(client, p, None) for p in typed]
        grounded = [completion(client, p, "scifact") for p in typed]
        peak_rss, _ = server.peak()
    head = ["call", "n", "p50 ms", "p95 ms", "max ms"]
    rows = [
        summary_row("answer: time to first token", [a["ttft"] for a in answers]),
        summary_row("answer: total (streamed, ≤96 tokens)", [a["total"] for a in answers]),
        summary_row("complete (3 suggestions)", plain),
        summary_row("complete grounded in the collection", grounded),
    ]
    print_table(head, rows)
    mean_tokens = sum(a["tokens"] for a in answers) / max(len(answers), 1)
    print(f"answer: {mean_tokens:.0f} token events on average; server peak RSS {peak_rss:.0f} MiB")
    if args.no_write:
        return
    notes = (
        f"Embedded profile, llama.cpp in-process with Gemma 3 270M Q4_K_M; {len(documents)} SciFact abstracts; "
        f"one client, calls one after another; answers streamed with `stream: true` "
        f"({mean_tokens:.0f} token events on average); completion prefixes are the first half of "
        f"SciFact queries. Server peak RSS {peak_rss:.0f} MiB."
    )
    write_section(
        "services", section_header("AI service latency", started, notes) + "\n" + md_table(head, rows)
    )


if __name__ == "__main__":
    main()
