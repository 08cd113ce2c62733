"""Commands that talk to a running server over HTTP: ingest, search, jobs."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

console = Console()
UrlOption = Annotated[str, typer.Option("--url", envvar="RAGWORKS_URL", help="Server address.")]
DEFAULT_URL = "http://127.0.0.1:8000"
_FINISHED = {"succeeded", "dead", "cancelled"}
_SKIP_NAMES = {".DS_Store", "Thumbs.db"}


def _files(paths: list[Path]) -> list[tuple[Path, str]]:
    """Files to upload with their document names: relative to the folder's parent, or the file name."""
    found: list[tuple[Path, str]] = []
    for path in paths:
        if path.is_dir():
            base = path.resolve().parent
            found += [
                (p, str(p.resolve().relative_to(base)))
                for p in sorted(path.rglob("*"))
                if p.is_file() and p.name not in _SKIP_NAMES
            ]
        elif path.is_file():
            found.append((path, path.name))
        else:
            raise typer.BadParameter(f"{path} does not exist")
    return found


@contextmanager
def _client(url: str, timeout: float) -> Iterator[httpx.Client]:
    """An HTTP client for the server at ``url`` (with the API key in ``RAGWORKS_API_KEY``, if set); a
    connection failure is a clear error, not a traceback."""
    key = os.environ.get("RAGWORKS_API_KEY")
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        with httpx.Client(base_url=url, timeout=timeout, headers=headers) as client:
            yield client
    except httpx.TransportError as exc:
        console.print(f"[red]cannot reach the server at {url}[/red] ({exc}); is `ragworks serve` running?")
        raise typer.Exit(1) from None


def _check(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        try:
            error = response.json()["error"]
            message = f"{error['code']}: {error['message']}"
        except (ValueError, KeyError, TypeError):
            message = response.text[:500]
        console.print(f"[red]error {response.status_code}[/red] {message}")
        raise typer.Exit(1)
    return response.json()


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (recursed).")],
    collection: Annotated[
        str, typer.Option("-c", "--collection", help="Target collection (created if missing).")
    ],
    url: UrlOption = DEFAULT_URL,
    wait: Annotated[bool, typer.Option(help="Wait until every document is indexed.")] = True,
) -> None:
    """Upload files, then follow their jobs with a progress bar and report failures with reasons."""
    files = _files(paths)
    if not files:
        console.print("no files found")
        raise typer.Exit(1)
    with _client(url, 300) as client:
        if client.get(f"/v1/collections/{collection}").status_code == 404:
            _check(client.post("/v1/collections", json={"name": collection}))
        accepted: list[dict[str, Any]] = []
        with _bar() as bar:
            task = bar.add_task("uploading", total=len(files))
            for path, name in files:
                with path.open("rb") as handle:
                    response = client.post(
                        f"/v1/collections/{collection}/documents", files=[("files", (name, handle))]
                    )
                body = response.json()
                accepted += body.get("documents", []) if "documents" in body else [{"filename": name, **body}]
                bar.advance(task)
        jobs = {d["job_id"]: d for d in accepted if d.get("job_id") and d.get("status") == "queued"}
        results = _follow(client, jobs) if wait and jobs else {}
    _report(accepted, results)


def _bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())


def _follow(client: httpx.Client, jobs: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    finished: dict[str, dict[str, Any]] = {}
    with _bar() as bar:
        task = bar.add_task("indexing", total=len(jobs))
        while len(finished) < len(jobs):
            for job_id in [j for j in jobs if j not in finished]:
                job = _check(client.get(f"/v1/jobs/{job_id}"))
                if job["status"] in _FINISHED:
                    finished[job_id] = job
                    bar.advance(task)
            if len(finished) < len(jobs):
                time.sleep(0.5)
    return finished


def _report(accepted: list[dict[str, Any]], results: dict[str, dict[str, Any]]) -> None:
    failures = [(d.get("filename") or d.get("id"), d["error"]) for d in accepted if d.get("error")]
    failures += [(j["document_id"], j["error"]) for j in results.values() if j["status"] != "succeeded"]
    ready = sum(1 for j in results.values() if j["status"] == "succeeded")
    unchanged = sum(1 for d in accepted if d.get("status") == "unchanged")
    console.print(f"[green]{ready} indexed[/green], {unchanged} unchanged, [red]{len(failures)} failed[/red]")
    for name, error in failures:
        console.print(f"  [red]✗[/red] {name}: {error.get('code')}: {error.get('message')}")
    if failures:
        raise typer.Exit(2)


def search(
    query: Annotated[str, typer.Argument(help="What to search for.")],
    collection: Annotated[list[str], typer.Option("-c", "--collection", help="Collection(s) to search.")],
    mode: Annotated[str, typer.Option(help="hybrid, keyword or vector.")] = "hybrid",
    top_k: Annotated[int, typer.Option("-k", "--top-k")] = 5,
    url: UrlOption = DEFAULT_URL,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw JSON response.")] = False,
) -> None:
    """Search one or more collections."""
    body = {"query": query, "collections": collection, "mode": mode, "top_k": top_k}
    with _client(url, 60) as client:
        result = _check(client.post("/v1/retrieve", json=body))
    if as_json:
        console.print_json(json.dumps(result))
        return
    for rank, hit in enumerate(result["results"], start=1):
        page = f" p.{hit['page']}" if hit.get("page") else ""
        console.print(f"[bold]{rank}. {hit['document_id']}{page}[/bold]  score {hit['score']:.3f}")
        console.print("   " + " … ".join(hit.get("highlights") or [hit["text"][:240]]))
    console.print(f"[dim]{len(result['results'])} results in {result['took_ms']:.1f} ms[/dim]")


def jobs(
    status: Annotated[
        str | None, typer.Option(help="queued, running, succeeded, failed, dead, cancelled")
    ] = None,
    limit: Annotated[int, typer.Option()] = 20,
    url: UrlOption = DEFAULT_URL,
) -> None:
    """List recent jobs (``--status dead`` is the dead-letter list)."""
    params: dict[str, Any] = {"limit": limit} | ({"status": status} if status else {})
    with _client(url, 30) as client:
        page = _check(client.get("/v1/jobs", params=params))
    table = Table()
    for column in ("id", "kind", "status", "document", "attempts", "progress", "error"):
        table.add_column(column, overflow="fold")  # wrap, never hide the error text
    for job in page["jobs"]:
        error = job.get("error") or {}
        table.add_row(
            job["id"],
            job["kind"],
            job["status"],
            job.get("document_id") or "",
            f"{job['attempts']}/{job['max_attempts']}",
            f"{job['progress']:.0%}",
            f"{error.get('code', '')}: {error.get('message', '')}" if error else "",
        )
    console.print(table)
