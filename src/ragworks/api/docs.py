"""``/docs`` (Swagger UI) and ``/redoc`` served with their scripts and styles from this server.

FastAPI's default pages load Swagger UI and ReDoc from a public CDN, so on a closed network they stay
blank. The assets come from the ``fastapi-offline`` package (its ``static`` folder) and are served under
``/docs/assets``; nothing on either page is fetched from elsewhere (no web fonts either, and ReDoc's
vendor logo is refused by a Content-Security-Policy header).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs/assets"
REDOC_IMAGES_LOCAL = "img-src 'self' data:"


def assets_folder() -> Path:
    """The folder of Swagger UI's and ReDoc's bundled files."""
    return Path(str(files("fastapi_offline") / "static"))


def install_docs(app: FastAPI) -> None:
    """Add ``/docs``, its OAuth2 redirect page and ``/redoc`` to an app built with ``docs_url=None``
    and ``redoc_url=None``."""
    app.mount(ASSETS, StaticFiles(directory=assets_folder()), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    oauth2_redirect = "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon.png",
            oauth2_redirect_url=oauth2_redirect,
        )

    @app.get(oauth2_redirect, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS}/favicon.png",
            with_google_fonts=False,
        )
        # ReDoc's sidebar footer loads its vendor's logo from cdn.redoc.ly; images from elsewhere are
        # refused here, so the page never reaches outside the server (the footer shows no logo)
        page.headers["Content-Security-Policy"] = REDOC_IMAGES_LOCAL
        return page
