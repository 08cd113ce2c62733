"""``/ui``: the dashboard page and its assets, from this package's files (no CDN, no build step).

The page is one HTML file whose scripts route on the URL's fragment (``/ui#/jobs?status=dead``), so
every path under ``/ui`` serves the same page. ``router`` carries the page and the admin API it reads
(``api/routes/admin.py``), so the app includes the dashboard with one line.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from ragworks.api.routes import admin
from ragworks.errors import NotFound

STATIC = Path(__file__).resolve().parent / "static"
# the files the page may load, with their media types; nothing else under the folder is served
ASSETS = {
    "app.css": "text/css",
    "app.js": "text/javascript",
    "core.js": "text/javascript",
    "chart.js": "text/javascript",
    "overview.js": "text/javascript",
    "jobs.js": "text/javascript",
    "collections.js": "text/javascript",
    "search.js": "text/javascript",
    "favicon.svg": "image/svg+xml",
}
REVALIDATE = {"Cache-Control": "no-cache"}  # a new version shows at once; unchanged files answer 304

pages = APIRouter(include_in_schema=False)


@pages.get("/ui/assets/{name}")
async def asset(name: str) -> FileResponse:
    """One of the page's scripts, styles or images."""
    media_type = ASSETS.get(name)
    if media_type is None:
        raise NotFound(f"no dashboard asset '{name}'")
    return FileResponse(STATIC / name, media_type=media_type, headers=REVALIDATE)


@pages.get("/ui")
@pages.get("/ui/{path:path}")
async def page(path: str = "") -> FileResponse:
    """The dashboard page (every path under /ui: views are chosen by the URL's fragment)."""
    del path
    return FileResponse(STATIC / "index.html", media_type="text/html", headers=REVALIDATE)


router = APIRouter()
router.include_router(admin.router)
router.include_router(pages)
