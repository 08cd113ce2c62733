"""The two ways a request fails authentication; both answer 401 with ``WWW-Authenticate: Bearer``."""

from __future__ import annotations

from ragworks.errors import Unauthorized


class MissingApiKey(Unauthorized):
    """The request carries no ``Authorization: Bearer`` or ``X-API-Key`` header."""

    code = "missing_api_key"


class InvalidApiKey(Unauthorized):
    """The key is malformed, unknown, revoked or expired (one answer for all: no hint to a guesser)."""

    code = "invalid_api_key"
