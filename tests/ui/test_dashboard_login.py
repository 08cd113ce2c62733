"""The dashboard on a server with auth on, in real headless Chromium (Debian's /usr/bin/chromium driven
by Playwright): it asks for a key, refuses a wrong one, shows the overview with an admin key, and signs
out. The admin key is made with ``ragworks keys create`` as an operator would."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.cli import ragworks
from helpers.server import Server

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("Debian's chromium is not installed at /usr/bin/chromium", allow_module_level=True)

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ui-auth") / "data"


@pytest.fixture(scope="module")
def admin_key(data_dir: Path) -> str:
    made = ragworks("keys", "create", "--admin", "--name", "dashboard", "--data-dir", str(data_dir))
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


@pytest.fixture(scope="module")
def server(data_dir: Path, admin_key: str) -> Iterator[Server]:
    del admin_key  # made before the server starts, as the first key is
    server = Server(data_dir, env={"RAGWORKS_AUTH__ENABLED": "true", "RAGWORKS_JOBS__HEARTBEAT_S": "0.5"})
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def page(server: Server) -> Iterator[Page]:
    """A fresh page that can reach nothing but the server."""
    with sync_playwright() as playwright:
        playwright.selectors.set_test_id_attribute("data-test")
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        page = browser.new_page(viewport={"width": 1360, "height": 900})
        page.route(
            "**/*",
            lambda route: route.continue_() if route.request.url.startswith(server.url) else route.abort(),
        )
        yield page
        browser.close()


def test_the_dashboard_asks_for_a_key_then_shows_the_overview(
    page: Page, server: Server, admin_key: str
) -> None:
    page.goto(f"{server.url}/ui")
    form = page.get_by_test_id("sign-in")
    expect(form).to_be_visible()
    expect(page.get_by_test_id("sign-out")).to_be_hidden()

    page.get_by_test_id("api-key").fill("rw_0123456789ab_not-a-real-secret")
    page.get_by_test_id("sign-in-submit").click()
    expect(page.get_by_test_id("sign-in-error")).to_contain_text("invalid_api_key")

    page.get_by_test_id("api-key").fill(admin_key)
    page.get_by_test_id("sign-in-submit").click()
    expect(page.get_by_test_id("overview")).to_be_visible()
    expect(page.get_by_test_id("worker").first).to_be_visible()
    expect(form).to_have_count(0)

    page.goto(f"{server.url}/ui#/collections")  # other views send the key too, and it survives a reload
    page.reload()
    expect(page.get_by_test_id("sign-in")).to_have_count(0)
    expect(page.locator("#view")).to_contain_text("Collections")

    page.get_by_test_id("sign-out").click()
    expect(page.get_by_test_id("sign-in")).to_be_visible()
    expect(page.get_by_test_id("sign-out")).to_be_hidden()
