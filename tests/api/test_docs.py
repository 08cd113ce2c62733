"""/docs and /redoc load everything from this server: on a closed network they still work."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*['"]([^'"]+)['"]""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_page_refers_only_to_this_server(client: TestClient, page: str) -> None:
    response = client.get(page)

    assert response.status_code == 200
    html = response.text
    assert "http://" not in html and "https://" not in html  # no CDN, no web fonts
    references = [a or b for a, b in REFERENCE.findall(html)]
    assert references, html
    for reference in references:
        assert reference.startswith("/"), reference
        asset = client.get(reference)
        assert asset.status_code == 200, reference
        assert asset.content, reference


def test_swagger_ui_script_and_style_are_served(client: TestClient) -> None:
    script = client.get("/docs/assets/swagger-ui-bundle.js")
    style = client.get("/docs/assets/swagger-ui.css")

    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert style.status_code == 200 and "text/css" in style.headers["content-type"]
    assert len(script.content) > 100_000
