"""One error base for the whole platform, carrying its HTTP status and a stable code."""

from __future__ import annotations

from typing import Any


class RagworksError(Exception):
    """Base of every expected error; rendered as ``{"error": {code, message, details}}``."""

    status_code: int = 500
    code: str = "internal_error"
    # a part of the platform is down or full, not the request at fault: the same call can succeed
    # unchanged later, and a job's attempt that fails this way does not count toward its max_attempts
    outage: bool = False

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """The JSON error body."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return {"error": body}


class BadRequest(RagworksError):
    status_code = 400
    code = "bad_request"


class InvalidInput(RagworksError):
    """Input that does not match a schema (the same code as FastAPI's request validation)."""

    status_code = 422
    code = "validation_error"


class Unauthorized(RagworksError):
    """No API key, or one that is unknown, revoked or expired (sent with ``WWW-Authenticate``)."""

    status_code = 401
    code = "unauthorized"


class Forbidden(RagworksError):
    """A valid key without the scope (or the collection grant) the request needs."""

    status_code = 403
    code = "forbidden"


class NotFound(RagworksError):
    status_code = 404
    code = "not_found"


class Conflict(RagworksError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(RagworksError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaType(RagworksError):
    status_code = 415
    code = "unsupported_media_type"


class UnprocessableDocument(RagworksError):
    """A document that was accepted but cannot be turned into text (corrupt, encrypted, too big inside)."""

    status_code = 422
    code = "unprocessable_document"


class NotReady(RagworksError):
    status_code = 503
    code = "not_ready"


class Busy(RagworksError):
    """The store stayed locked by other writers past its timeout; nothing was changed, retry later."""

    status_code = 503
    code = "busy"
    outage = True


class EmbedderUnavailable(RagworksError):
    """The embedding model runs in another process (``embed.provider = 'remote'`` or ``'openai'``) that
    did not answer in time; vector and hybrid searches fail fast, keyword search keeps working, and
    ingest jobs retry later."""

    status_code = 503
    code = "embedder_unavailable"
    outage = True


class DiskFull(RagworksError):
    """The data disk is full: nothing was written (the database rolled back, no blob was left). An
    upload answers 507 Insufficient Storage; a job retries later. Free space and it goes on by itself."""

    status_code = 507
    code = "disk_full"
    outage = True
