"""The dashboard end to end in real headless Chromium (Debian's /usr/bin/chromium driven by Playwright)
against a real ``ragworks serve``: upload, a job that succeeds, one that dies and is retried from its
page, "retry every dead job", the search playground, live workers; and /docs and /redoc with every
request outside the server blocked.

With ``RAGWORKS_UI_SCREENSHOTS=<folder>`` the tests also save the screenshots of docs/dashboard.md there.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from helpers.files import make_pdf
from helpers.server import Server

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("Debian's chromium is not installed at /usr/bin/chromium", allow_module_level=True)

from playwright.sync_api import Browser, Page, Route, expect, sync_playwright  # noqa: E402

BROKEN_PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> garbage"
HANDBOOK = "handbook"
WAIT_MS = 120_000  # a first ingest loads the parser processes and the model


class BlockedRequests:
    """Lets requests to the server through and aborts (and counts) every other one."""

    def __init__(self, server_url: str) -> None:
        self.origin = urlsplit(server_url).netloc
        self.blocked: list[str] = []

    def __call__(self, route: Route) -> None:
        url = route.request.url
        if urlsplit(url).netloc == self.origin:
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real server (extractive LLM, heartbeats every half second) with a small indexed collection."""
    server = Server(
        tmp_path_factory.mktemp("ui") / "data",
        env={"RAGWORKS_LLM__PROVIDER": "extractive", "RAGWORKS_JOBS__HEARTBEAT_S": "0.5"},
    )
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            client.post("/v1/collections", json={"name": HANDBOOK}).raise_for_status()
            pdf = make_pdf(["Refunds are paid within five working days of the request.", "Shipping is free."])
            files = [("files", ("refunds.pdf", pdf, "application/pdf"))]
            job_id = client.post(f"/v1/collections/{HANDBOOK}/documents", files=files).json()["documents"][0][
                "job_id"
            ]
            expect_job(client, job_id, "succeeded")
        yield server
    finally:
        server.stop()


def expect_job(client: httpx.Client, job_id: str, status: str) -> None:
    """Wait (with a deadline) until the job has finished; it must have ``status``."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "dead", "cancelled"):
            assert job["status"] == status, job
            return
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        playwright.selectors.set_test_id_attribute("data-test")
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield browser
        browser.close()


@pytest.fixture
def blocked(server: Server) -> BlockedRequests:
    return BlockedRequests(server.url)


@pytest.fixture
def page(browser: Browser, blocked: BlockedRequests) -> Iterator[Page]:
    """A fresh page where nothing outside the server can be fetched; dialogs are accepted."""
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    page.route("**/*", blocked)
    page.on("dialog", lambda dialog: dialog.accept())
    yield page
    context.close()


def screenshot(page: Page, name: str) -> None:
    """Save the page for the docs when RAGWORKS_UI_SCREENSHOTS names a folder."""
    folder = os.environ.get("RAGWORKS_UI_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"dashboard-{name}.png"), full_page=True)


def upload_from_page(page: Page, server: Server, collection: str, name: str, data: bytes, mime: str) -> None:
    page.goto(f"{server.url}/ui#/upload")
    page.get_by_test_id("upload-collection").fill(collection)
    page.get_by_test_id("upload-files").set_input_files(
        files=[{"name": name, "mimeType": mime, "buffer": data}]
    )
    page.get_by_test_id("upload-submit").click()


def test_an_uploaded_file_s_job_is_watched_until_it_succeeds(
    page: Page, server: Server, blocked: BlockedRequests
) -> None:
    text = b"# Returns\n\nReturned items are inspected within two days and refunded after that.\n"
    upload_from_page(page, server, "uploads", "returns.md", text, "text/markdown")

    row = page.get_by_test_id("upload-row").filter(has_text="returns.md")
    expect(row.get_by_test_id("status")).to_have_text("succeeded", timeout=WAIT_MS)

    page.goto(f"{server.url}/ui#/collections/uploads")
    document = page.get_by_test_id("document-row").filter(has_text="returns.md")
    expect(document.get_by_test_id("status")).to_have_text("ready")
    assert blocked.blocked == []


def test_a_dead_job_is_retried_from_its_page_and_dies_again(
    page: Page, server: Server, blocked: BlockedRequests
) -> None:
    upload_from_page(page, server, "broken", "broken.pdf", BROKEN_PDF, "application/pdf")
    row = page.get_by_test_id("upload-row").filter(has_text="broken.pdf")
    expect(row.get_by_test_id("status")).to_have_text("dead", timeout=WAIT_MS)
    expect(row).to_contain_text("corrupt_document")

    row.get_by_role("link").click()
    detail = page.get_by_test_id("job-detail")
    expect(detail.get_by_test_id("status")).to_have_text("dead")
    expect(detail.get_by_test_id("error")).to_contain_text("corrupt_document")
    expect(detail.get_by_test_id("attempt")).to_have_count(1)
    screenshot(page, "job")

    detail.get_by_test_id("retry").first.click()
    expect(detail.get_by_test_id("attempt")).to_have_count(2, timeout=WAIT_MS)  # the page refreshes itself
    expect(detail.get_by_test_id("status")).to_have_text("dead")
    expect(detail).to_contain_text("Failed attempts (2)")
    assert blocked.blocked == []


def test_retry_every_dead_job_from_the_jobs_list(
    page: Page, server: Server, blocked: BlockedRequests
) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        client.post("/v1/collections", json={"name": "graveyard"})
        files = [("files", ("dead.pdf", BROKEN_PDF, "application/pdf"))]
        job_id = client.post("/v1/collections/graveyard/documents", files=files).json()["documents"][0][
            "job_id"
        ]
        expect_job(client, job_id, "dead")

    page.goto(f"{server.url}/ui#/jobs?status=dead")
    dead_row = page.locator(f'[data-job="{job_id}"]')
    expect(dead_row.get_by_test_id("status")).to_have_text("dead")
    expect(page.get_by_test_id("filter-status")).to_have_value("dead")
    screenshot(page, "jobs")

    page.get_by_test_id("retry-all-dead").click()
    expect(page.locator("#toast")).to_have_text(re.compile(r"[1-9][\d,]* dead jobs queued again"))
    with httpx.Client(base_url=server.url, timeout=60) as client:
        job = client.get(f"/v1/jobs/{job_id}").json()
        assert job["status"] != "dead" or len(job["history"]) == 2  # replayed (and perhaps dead again)
    assert blocked.blocked == []


def test_the_playground_shows_the_keyword_and_vector_legs_side_by_side(
    page: Page, server: Server, blocked: BlockedRequests
) -> None:
    page.goto(f"{server.url}/ui#/search")
    page.get_by_test_id("search-query").fill("how fast are refunds paid")
    page.get_by_test_id("search-collections").select_option(HANDBOOK)
    page.get_by_test_id("search-submit").click()

    for leg in ("keyword", "vector", "hybrid"):
        hits = page.get_by_test_id(f"leg-{leg}").get_by_test_id("hit")
        expect(hits.first).to_contain_text("Refunds", timeout=30_000)
    screenshot(page, "search")
    assert blocked.blocked == []


def test_the_overview_shows_live_workers_counts_and_the_chart(
    page: Page, server: Server, blocked: BlockedRequests
) -> None:
    page.goto(f"{server.url}/ui")

    expect(page.get_by_test_id("worker").first).to_be_visible()
    expect(page.get_by_test_id("chart")).to_be_visible()
    expect(page.get_by_test_id("overview")).to_contain_text("document.ingest")
    expect(page.locator("#live")).to_contain_text("live ·", timeout=10_000)  # it refreshed itself
    screenshot(page, "overview")
    assert blocked.blocked == []


def test_swagger_ui_renders_with_nothing_fetched_from_elsewhere(
    page: Page, server: Server, blocked: BlockedRequests
) -> None:
    page.goto(f"{server.url}/docs")

    expect(page.locator(".swagger-ui .info .title")).to_contain_text("ragworks", timeout=30_000)
    expect(page.get_by_text("/v1/admin/overview")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert blocked.blocked == []


def test_redoc_renders_with_nothing_fetched_from_elsewhere(
    page: Page, server: Server, blocked: BlockedRequests
) -> None:
    page.goto(f"{server.url}/redoc")

    expect(page.locator("h1").first).to_contain_text("ragworks", timeout=30_000)
    expect(page.get_by_text("List jobs, newest first").first).to_be_attached()
    page.wait_for_load_state("networkidle")
    assert blocked.blocked == []
