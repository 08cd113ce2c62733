"""Callbacks: when a job that has a ``callback_url`` ends, POST its outcome there, signed.

The body is JSON; the header ``X-Ragworks-Signature: sha256=<hex>`` is the HMAC-SHA256 of the raw body
under the callback secret. Deliveries are ``callback.deliver`` jobs: retried with backoff, and dead
(replayable from the dead-letter list) when the receiver keeps failing.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx

from ragworks import __version__
from ragworks.config import Settings
from ragworks.domain import Job, JobKind, JobResults, JobStatus
from ragworks.engines.queue.base import JobAdmin, JobQueue
from ragworks.errors import RagworksError
from ragworks.jobs.worker import Handler, JobContext

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Ragworks-Signature"
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


def outcome_body(job: Job) -> dict[str, Any]:
    """What a receiver gets: the job's identity, final status, and its result or error."""
    error = {"code": job.error_type, "message": job.error_message} if job.error_type else None
    return {
        "job_id": job.id,
        "kind": job.kind,
        "service": job.payload.get("service"),
        "collection": job.collection,
        "document_id": job.document_id,
        "status": str(job.status),
        "result": job.result if job.status == JobStatus.SUCCEEDED else None,
        "error": error if job.status != JobStatus.SUCCEEDED else None,
        "attempts": job.attempts,
        "finished_at": job.finished_at,
    }


@dataclass(slots=True)
class Callbacks:
    """Enqueues deliveries when jobs end, and delivers them."""

    queue: JobQueue
    admin: JobAdmin
    secret: bytes
    timeout_s: float
    max_attempts: int

    def handlers(self) -> dict[str, Handler]:
        """The registry entries this class provides."""
        return {JobKind.CALLBACK: self.deliver}

    async def on_finished(self, job: Job, status: JobStatus, _error: Exception | None) -> None:
        """Enqueue a delivery for a job with a callback URL that has just succeeded or died."""
        if not job.callback_url or job.kind == JobKind.CALLBACK:
            return
        if status not in (JobStatus.SUCCEEDED, JobStatus.DEAD):
            return
        stored = await anyio.to_thread.run_sync(self.admin.get, job.id)
        body = json.dumps(outcome_body(stored), ensure_ascii=False, separators=(",", ":"))
        payload = {"url": job.callback_url, "body": body, "for_job": job.id}
        await anyio.to_thread.run_sync(
            lambda: self.queue.enqueue(JobKind.CALLBACK, payload, max_attempts=self.max_attempts)
        )

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
        try:
            response = await client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise CallbackFailed(f"POST {url} failed: {type(exc).__name__}: {exc}") from exc
        if response.status_code in _FINAL_STATUSES:
            raise CallbackRejected(f"POST {url} was refused with HTTP {response.status_code}")
        if response.status_code >= 300:
            raise CallbackFailed(f"POST {url} answered HTTP {response.status_code}")
        return {"url": url, "status_code": response.status_code, "for_job": job.payload.get("for_job")}
