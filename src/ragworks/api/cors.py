"""Cross-origin requests from browser apps: Starlette's CORSMiddleware, configured from ``cors``.

Off unless origins are listed. It runs outside the rate limits and auth, so their answers (429, 401)
carry the CORS headers too and a browser app can read them; the headers it exposes are the ones such
an app needs to back off and to follow jobs.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware

from ragworks.config import CorsSettings

ALLOWED_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
EXPOSED_HEADERS = ["Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "X-Request-ID", "Location"]


def install_cors(app: Starlette, settings: CorsSettings) -> None:
    """Add the CORS middleware to ``app`` when ``settings`` lists origins.

    Raises:
        ValueError: credentials are allowed for any origin ('*'): every web page a user visits could
            then make requests with the user's cookies.
    """
    if not settings.allow_origins:
        return
    if settings.allow_credentials and "*" in settings.allow_origins:
        raise ValueError("cors.allow_credentials needs the origins listed one by one, not '*'")
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.allow_origins,
        allow_methods=ALLOWED_METHODS,
        allow_headers=settings.allow_headers,
        allow_credentials=settings.allow_credentials,
        expose_headers=EXPOSED_HEADERS,
        max_age=settings.max_age_s,
    )
