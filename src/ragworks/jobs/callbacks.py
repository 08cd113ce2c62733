"""Callbacks and webhooks: POST a job's outcome to its ``callback_url``, or an event to a webhook, signed.

The body is JSON; the header ``X-Ragworks-Signature: sha256=<hex>`` is the HMAC-SHA256 of the raw body
under the callback secret. Deliveries are ``callback.deliver`` jobs, enqueued in the transaction that
records the outcome (``jobs/events.py`` decides which): retried with backoff, and dead (replayable from
the dead-letter list) when the receiver keeps failing.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import httpx

from ragworks import __version__
from ragworks.config import Settings
from ragworks.domain import Job, JobKind, JobResults
from ragworks.errors import RagworksError
from ragworks.jobs.events import outcome_body
from ragworks.jobs.worker import Handler, JobContext

__all__ = [
    "EVENT_HEADER",
    "SIGNATURE_HEADER",
    "CallbackFailed",
    "CallbackRejected",
    "Callbacks",
    "load_secret",
    "outcome_body",
    "sign",
]

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Ragworks-Signature"
EVENT_HEADER = "X-Ragworks-Event"  # the event id of a webhook delivery: receivers drop re-deliveries
# Receiver answers that mean "never": retrying cannot help. 408 and 429 are worth another try.
_FINAL_STATUSES = frozenset(range(400, 500)) - {408, 429}


class CallbackRejected(RagworksError):
    """The receiver refused the delivery for good (a 4xx answer)."""

    status_code = 400
    code = "callback_rejected"


class CallbackFailed(RagworksError):
    """The receiver could not be reached or failed (5xx, timeout); the delivery is retried."""

    status_code = 502
    code = "callback_failed"


def sign(secret: bytes, body: bytes) -> str:
    """The signature header value for ``body``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def load_secret(settings: Settings) -> bytes:
    """The configured secret, or the one kept in the data dir (created with mode 0600 on first use)."""
    if settings.callbacks.secret is not None:
        return settings.callbacks.secret.get_secret_value().encode()
    path: Path = settings.data_dir / "callback.secret"
    if not path.exists():
        _create_secret(path)
    return path.read_text().strip().encode()


def _create_secret(path: Path) -> None:
    """Write a new secret to ``path`` unless another process does first: the whole file appears at once
    (linked from a finished temp file), so no process ever reads it empty."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    with os.fdopen(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
        out.write(secrets.token_hex(32))
        out.flush()
        os.fsync(out.fileno())
    try:
        os.link(draft, path)
    except FileExistsError:
        pass  # another process won; its secret is the one
    finally:
        draft.unlink()


@dataclass(slots=True)
class Callbacks:
    """Delivers ``callback.deliver`` jobs (callbacks and webhooks)."""

    secret: bytes
    timeout_s: float
    max_attempts: int

    def handlers(self) -> dict[str, Handler]:
        """The registry entries this class provides."""
        return {JobKind.CALLBACK: self.deliver}

    async def deliver(self, jobs: list[Job], _ctx: JobContext) -> JobResults:
        """POST each delivery (concurrently); a failure is retried by the worker with backoff."""
        async with httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=False) as client:
            outcomes = await asyncio.gather(
                *(self._post(client, job) for job in jobs), return_exceptions=True
            )
        results: JobResults = {}
        for job, outcome in zip(jobs, outcomes, strict=True):
            if isinstance(outcome, Exception):
                results[job.id] = outcome
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                results[job.id] = outcome
        return results

    async def _post(self, client: httpx.AsyncClient, job: Job) -> dict[str, object]:
        url, body = str(job.payload["url"]), str(job.payload["body"]).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"ragworks/{__version__}",
            SIGNATURE_HEADER: sign(self.secret, body),
            "X-Ragworks-Job": str(job.payload.get("for_job")),
            "X-Ragworks-Delivery": job.id,
        }
        if job.payload.get("event_id") is not None:
            headers[EVENT_HEADER] = str(job.payload["event_id"])
        try:
            response = await client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise CallbackFailed(f"POST {url} failed: {type(exc).__name__}: {exc}") from exc
        if response.status_code in _FINAL_STATUSES:
            raise CallbackRejected(f"POST {url} was refused with HTTP {response.status_code}")
        if response.status_code >= 300:
            raise CallbackFailed(f"POST {url} answered HTTP {response.status_code}")
        return {"url": url, "status_code": response.status_code, "for_job": job.payload.get("for_job")}
