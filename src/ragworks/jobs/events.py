"""Who is told about a finished job: its callback, the configured webhooks and event stream, and the
stream a service request came from.

``EventRouter`` is pure (no I/O): the queue calls it inside the transaction that records the outcome
(``engines/queue/outbox.py``), and what it returns is enqueued in that same transaction:

- the job's own ``callback_url``: a ``callback.deliver`` of ``outcome_body``;
- each webhook (``events.webhooks``) whose ``kinds`` and ``collections`` match an event: a
  ``callback.deliver`` of the event's body, signed like callbacks;
- the event stream (``events.stream_url``) for the kinds ``events.stream_kinds`` match: a
  ``stream.publish`` of the event;
- a service request that came from a stream (``"reply"`` in its payload): its result (or error, with an
  HTTP-style status code) to the results stream, and when it died the original message to the
  dead-letter stream with the failure in ``ragworks.errors.*`` headers.

Delivery is at-least-once: every stream message carries the event id in ``ragworks-event-id`` (and
webhooks in ``X-Ragworks-Event``) so receivers can drop a re-delivery. Events of delivery jobs are
recorded but never delivered: a failing receiver would otherwise be told about its own failures
without end.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from ragworks.config import EventSettings, Settings, WebhookSettings
from ragworks.domain import Job, JobKind, JobStatus
from ragworks.engines.queue.outbox import Delivery, Event, EventKind, failure_status_code
from ragworks.streams.dead_letters import FailureContext, Stage, result_body

EVENT_ID_HEADER = "ragworks-event-id"
EVENT_KIND_HEADER = "ragworks-event-kind"
DELIVERY_KINDS = frozenset({JobKind.CALLBACK, JobKind.STREAM_PUBLISH})
_OUTCOME_EVENTS = frozenset({EventKind.JOB_SUCCEEDED, EventKind.JOB_DEAD})


def compact_json(value: Any) -> str:
    """JSON text without spaces, non-ASCII kept (what receivers get and signatures cover)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def outcome_body(job: Job) -> dict[str, Any]:
    """What a job's callback receiver gets: the job's identity, final status, and its result or error."""
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


def webhook_wants(webhook: WebhookSettings, event: Event) -> bool:
    """Whether ``webhook`` subscribed to ``event``'s kind and collection."""
    if not any(fnmatchcase(event.kind, pattern) for pattern in webhook.kinds):
        return False
    return webhook.collections is None or event.collection in webhook.collections


@dataclass(frozen=True, slots=True)
class EventRouter:
    """The destinations of each finished job's outcome and events (see the module docstring)."""

    settings: EventSettings
    max_attempts: int  # of every delivery job (callbacks.max_attempts)

    @classmethod
    def from_settings(cls, settings: Settings) -> EventRouter:
        """The router the settings configure."""
        return cls(settings.events, settings.callbacks.max_attempts)

    def deliveries(self, job: Job, job_events: Sequence[Event]) -> list[Delivery]:
        """The delivery jobs owed for ``job`` (just finished, as stored) and its stored events."""
        if job.kind in DELIVERY_KINDS or job.status not in (JobStatus.SUCCEEDED, JobStatus.DEAD):
            return []
        owed: list[Delivery] = []
        if job.callback_url:
            body = compact_json(outcome_body(job))
            owed.append(self._callback({"url": job.callback_url, "body": body, "for_job": job.id}))
        for event in job_events:
            owed += self._event_deliveries(event)
        reply = job.payload.get("reply") if job.kind == JobKind.SERVICE_RUN else None
        if isinstance(reply, dict):
            outcome = next((e for e in job_events if e.kind in _OUTCOME_EVENTS), None)
            owed += self._replies(job, reply, outcome)
        return owed

    def _event_deliveries(self, event: Event) -> list[Delivery]:
        owed: list[Delivery] = []
        body = compact_json(event.body())
        for webhook in self.settings.webhooks:
            if webhook_wants(webhook, event):
                payload = {"url": webhook.url, "body": body, "for_job": event.job_id, "event_id": event.id}
                owed.append(self._callback(payload))
        settings = self.settings
        if settings.stream_url and any(fnmatchcase(event.kind, p) for p in settings.stream_kinds):
            key = f"{event.collection}/{event.document_id}" if event.document_id else event.job_id
            headers = {EVENT_ID_HEADER: str(event.id), EVENT_KIND_HEADER: event.kind}
            owed.append(self._publish(settings.stream_url, settings.stream, body, key, headers, event.job_id))
        return owed

    def _replies(self, job: Job, reply: dict[str, Any], outcome: Event | None) -> list[Delivery]:
        """The result (and, for a dead job, the dead letter) of a service request read from a stream."""
        url, correlation_id = str(reply["url"]), reply.get("correlation_id")
        service = job.payload.get("service")
        headers = {EVENT_ID_HEADER: str(outcome.id)} if outcome is not None else {}
        if job.status == JobStatus.SUCCEEDED:
            body = result_body(
                correlation_id, service=service, status_code=200, result=job.result, job_id=job.id
            )
            return [self._publish(url, str(reply["results"]), body.decode(), correlation_id, headers, job.id)]
        status_code = failure_status_code(job)
        error = {"code": job.error_type, "message": job.error_message}
        body = result_body(
            correlation_id, service=service, status_code=status_code, error=error, job_id=job.id
        )
        owed = [self._publish(url, str(reply["results"]), body.decode(), correlation_id, headers, job.id)]
        if reply.get("dead_letter"):
            source = reply.get("source") or {}
            last = job.history[-1] if job.history else {}
            failure = FailureContext(
                source_stream=str(source.get("stream", "")),
                position=str(source.get("position", "")),
                stage=Stage.SERVICE,
                error_class=str(last.get("error_class") or job.error_type or "Error"),
                error_message=job.error_message or "",
                attempts=job.attempts,
                status_code=status_code,
            )
            letter_headers = {**failure.headers(source.get("headers") or {}), **headers}
            message = reply.get("message")
            owed.append(
                self._publish(
                    url,
                    str(reply["dead_letter"]),
                    None if message is None else str(message),
                    reply.get("key"),
                    letter_headers,
                    job.id,
                )
            )
        return owed

    def _callback(self, payload: dict[str, Any]) -> Delivery:
        return Delivery(JobKind.CALLBACK.value, payload, self.max_attempts)

    def _publish(
        self,
        url: str,
        stream: str,
        value: str | None,
        key: str | None,
        headers: dict[str, str],
        for_job: str | None,
    ) -> Delivery:
        payload = {
            "url": url,
            "stream": stream,
            "value": value,
            "key": key,
            "headers": headers,
            "for_job": for_job,
        }
        return Delivery(JobKind.STREAM_PUBLISH.value, payload, self.max_attempts)
