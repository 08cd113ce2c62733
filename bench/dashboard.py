"""How fast the dashboard loads with 200,000 jobs of which 100,000 are dead.

The jobs are written straight into a fresh embedded store (rows from ``job_row``, bulk inserted): half
dead, the rest succeeded, 100 waiting for a retry, all created over the last two hours so the last
hour's series holds about 100,000 finished jobs (the heaviest window). Then one ``ragworks serve``
process runs on it and two things are measured:

- each API call the page makes, repeated (p50 / p99 of the client's wall time);
- each page in headless Chromium (Debian's /usr/bin/chromium through Playwright): from navigation until
  the view shows its data, every API call included, and the last response's end from the page's own
  performance timings.

The target is 300 ms per page; the table says met or not met (nothing asserts).

    python bench/dashboard.py --docs
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert

from _common import (
    BENCH_DIR,
    Server,
    md_table,
    percentile,
    print_table,
    section_header,
    verdict,
    write_section,
)
from ragworks.config import Settings
from ragworks.domain import JobKind, JobStatus
from ragworks.engines.queue.job_rows import job_row
from ragworks.engines.store.providers import build_store
from ragworks.engines.store.schema import jobs

ROOT = BENCH_DIR / "dashboard"
TARGET_MS = 300.0
CHROMIUM = "/usr/bin/chromium"
COLLECTIONS = ("handbook", "tickets", "contracts", "wiki")


def fill_store(data_dir: Path, total: int, dead: int) -> tuple[float, str]:
    """Write ``total`` jobs (``dead`` of them dead) into a fresh store; returns (seconds, a dead job's id)."""
    started = time.perf_counter()
    data_dir.mkdir(parents=True, exist_ok=True)
    stores = build_store(Settings(data_dir=data_dir))
    stores.database.start()
    for name in COLLECTIONS:
        stores.store.create_collection(name, "auto", "")
    now = time.time()
    step = 7200 / total
    kinds = [JobKind.INGEST] * 8 + [JobKind.SERVICE_RUN, JobKind.CALLBACK]
    a_dead_job = ""
    batch: list[dict[str, Any]] = []
    writer = stores.database.writer  # type: ignore[attr-defined]  # the SQL database of the embedded profile
    with writer.begin() as conn:
        for i in range(total):
            row = job_row(
                kind=kinds[i % len(kinds)],
                payload={"blob": f"missing-{i}"},
                collection=COLLECTIONS[i % len(COLLECTIONS)],
                document_id=f"doc-{i}.pdf",
            )
            created = now - 7200 + i * step
            row.update(created_at=created, updated_at=created + 1, next_run_at=created, started_at=created)
            if dead and i % (total // dead) == 0:
                a_dead_job = row["id"]
                history = [
                    {"attempt": 1, "at": created + 1, "error_type": "corrupt_document", "message": "bad"}
                ]
                row.update(status=JobStatus.DEAD, attempts=1, finished_at=created + 1, history=history)
                row.update(error_type="corrupt_document", error_message="damaged PDF", progress=0.1)
            elif i < 200:  # 100 of them: the odd ones
                row.update(status=JobStatus.FAILED, attempts=1, finished_at=None, next_run_at=now + 86_400)
                row.update(error_type="busy", error_message="store busy", progress=0.0)
            else:
                row.update(status=JobStatus.SUCCEEDED, attempts=1, finished_at=created + 2, progress=1.0)
                row.update(error_type=None, error_message=None)
            batch.append(row)
            if len(batch) == 5000:
                conn.execute(insert(jobs), batch)
                batch = []
        if batch:
            conn.execute(insert(jobs), batch)
    stores.database.close()
    return time.perf_counter() - started, a_dead_job


def api_calls(dead_job: str) -> dict[str, str]:
    """The requests the dashboard's views make, by name."""
    hour_ago = time.time() - 3600
    return {
        "overview": "/v1/admin/overview",
        "live workers": "/v1/admin/workers",
        "jobs, first page": "/v1/jobs?limit=50",
        "dead jobs, first page": "/v1/jobs?status=dead&limit=50",
        "dead ingest jobs": "/v1/jobs?status=dead&kind=document.ingest&limit=50",
        "jobs of a collection": "/v1/jobs?collection=tickets&limit=50",
        "jobs of the last hour": f"/v1/jobs?since={hour_ago}&limit=50",
        "job detail": f"/v1/admin/jobs/{dead_job}",
        "collections": "/v1/collections",
        "documents of a collection": "/v1/collections/handbook/documents?limit=50",
    }


def measure_api(client: httpx.Client, calls: dict[str, str], repeats: int) -> list[list[object]]:
    rows: list[list[object]] = []
    for name, path in calls.items():
        client.get(path).raise_for_status()  # warm
        samples = []
        for _ in range(repeats):
            started = time.perf_counter()
            client.get(path).raise_for_status()
            samples.append((time.perf_counter() - started) * 1000)
        p50, p99 = percentile(samples, 50), percentile(samples, 99)
        rows.append(
            [
                name,
                f"`{path.split('?')[0]}`",
                f"{p50:.1f}",
                f"{p99:.1f}",
                verdict(p99, TARGET_MS, at_least=False),
            ]
        )
    return rows


def next_page_call(client: httpx.Client) -> tuple[str, str]:
    """The dead-letter list's tenth page, reached through the keyset cursor."""
    cursor = None
    for _ in range(9):
        cursor = client.get("/v1/jobs", params={"status": "dead", "limit": 50, "cursor": cursor}).json()[
            "next_cursor"
        ]
    return "dead jobs, page 10 (cursor)", f"/v1/jobs?status=dead&limit=50&cursor={cursor}"


def measure_pages(server_url: str, dead_job: str, repeats: int) -> list[list[object]]:
    from playwright.sync_api import sync_playwright

    pages = {
        "overview": ("#/overview", "[data-test=worker]"),
        "jobs (all)": ("#/jobs", "[data-test=job-row]"),
        "jobs (dead)": ("#/jobs?status=dead", "[data-test=job-row]"),
        "job detail": (f"#/jobs/{dead_job}", "[data-test=attempt]"),
        "collections": ("#/collections", "[data-test=collection-list] table"),
        "documents": ("#/collections/handbook", "[data-test=document-list]"),
        "search playground": ("#/search", "[data-test=search-form]"),
    }
    rows: list[list[object]] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        page = browser.new_page(viewport={"width": 1360, "height": 900})
        for name, (fragment, ready) in pages.items():
            shown, last_response = [], []
            for n in range(repeats + 1):
                page.goto("about:blank")
                started = time.perf_counter()
                page.goto(f"{server_url}/ui{fragment}")
                page.wait_for_selector(ready, timeout=30_000)
                elapsed = (time.perf_counter() - started) * 1000
                responses = page.evaluate(
                    "Math.max(...performance.getEntriesByType('resource').map(e => e.responseEnd), "
                    "performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd)"
                )
                if n:  # the first load fills the browser's cache, as an operator's first visit does
                    shown.append(elapsed)
                    last_response.append(float(responses))
            p50, p99 = percentile(shown, 50), percentile(shown, 99)
            rows.append(
                [
                    name,
                    f"{p50:.0f}",
                    f"{p99:.0f}",
                    f"{percentile(last_response, 50):.0f}",
                    verdict(p99, TARGET_MS, at_least=False),
                ]
            )
        browser.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200_000)
    parser.add_argument("--dead", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=30, help="requests per API call")
    parser.add_argument("--page-repeats", type=int, default=5, help="loads per page")
    parser.add_argument("--docs", action="store_true", help="rewrite the 'dashboard' section of the docs")
    args = parser.parse_args()
    started = time.time()
    shutil.rmtree(ROOT, ignore_errors=True)
    fill_s, dead_job = fill_store(ROOT / "data", args.jobs, args.dead)
    print(f"wrote {args.jobs:,} jobs ({args.dead:,} dead) in {fill_s:.1f} s", flush=True)
    env = {"RAGWORKS_LLM__PROVIDER": "extractive", "RAGWORKS_JOBS__HEARTBEAT_S": "1"}
    with Server(ROOT / "data", env=env) as server, httpx.Client(base_url=server.url, timeout=120) as client:
        time.sleep(1.5)  # let the worker's first heartbeat land, as on a running server
        calls = api_calls(dead_job)
        name, path = next_page_call(client)
        calls[name] = path
        api_rows = measure_api(client, calls, args.repeats)
        page_rows = measure_pages(server.url, dead_job, args.page_repeats)
        retry_started = time.perf_counter()
        retried = client.post("/v1/admin/jobs/retry-dead", json={}).json()["retried"]
        retry_s = time.perf_counter() - retry_started
    api_head = ["API call", "route", "p50 ms", "p99 ms", f"< {TARGET_MS:.0f} ms"]
    page_head = ["page", "shown p50 ms", "shown p99 ms", "last response p50 ms", f"< {TARGET_MS:.0f} ms"]
    print()
    print_table(page_head, page_rows)
    print()
    print_table(api_head, api_rows)
    print(f"\nretry every dead job: {retried:,} jobs in {retry_s:.1f} s (batches of 1,000)")
    if args.docs:
        notes = (
            f"{args.jobs:,} jobs ({args.dead:,} dead, 100 waiting for a retry, the rest succeeded) created over "
            "the last two hours in the embedded store (SQLite), one `ragworks serve` process, Chromium "
            "headless on the same machine. *Shown*: from navigation until the view displays its data (every "
            f"API call of the view included), {args.page_repeats} loads per page after one that fills the "
            "browser's cache; *last response*: the end of the page's last request, from its performance "
            f'timings. API calls: {args.repeats} requests each from one client. "Retry every dead job" '
            f"replayed {retried:,} jobs in {retry_s:.1f} s (batches of 1,000, a short transaction each)."
        )
        body = section_header("Dashboard with 200,000 jobs, 100,000 dead", started, notes)
        body += "\n" + md_table(page_head, page_rows) + "\n" + md_table(api_head, api_rows)
        write_section("dashboard", body)


if __name__ == "__main__":
    main()
