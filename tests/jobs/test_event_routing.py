"""EventRouter: which deliveries a finished job owes (callbacks, webhooks, the event stream, replies)."""

from __future__ import annotations

import json
from typing import Any

from ragworks.config import EventSettings, WebhookSettings
from ragworks.domain import Job, JobKind, JobStatus
from ragworks.engines.queue.outbox import Event, events_of
from ragworks.jobs.events import EVENT_ID_HEADER, EventRouter, outcome_body
from ragworks.streams.dead_letters import PREFIX

REPLY = {
    "url": "redis://broker:6379/0",
    "results": "answers",
    "dead_letter": "requests.dead",
    "correlation_id": "corr-7",
    "source": {"stream": "requests", "position": "1700000000000-0", "headers": {"tenant": "acme"}},
    "message": '{"service": "answer", "input": {"question": "why?"}}',
}


def finished(kind: str, status: JobStatus, **fields: Any) -> Job:
    """A job as the queue reads it back right after recording its outcome."""
    defaults: dict[str, Any] = {"collection": "docs", "document_id": "d1", "attempts": 1, "finished_at": 5.0}
    return Job(id="j1", kind=kind, status=status, payload=fields.pop("payload", {}), **{**defaults, **fields})


def stored(job: Job) -> list[Event]:
    """The job's events as the outbox would store them, with ids from 10."""
    return [
        Event(10 + n, kind, job.id, job.collection, job.document_id, data, 6.0)
        for n, (kind, data) in enumerate(events_of(job))
    ]


def route(job: Job, **settings: Any) -> list[tuple[str, dict[str, Any]]]:
    router = EventRouter(EventSettings(**settings), max_attempts=3)
    return [(d.kind, d.payload) for d in router.deliveries(job, stored(job))]


def test_a_callback_url_gets_the_outcome_body_like_before() -> None:
    job = finished(JobKind.INGEST, JobStatus.SUCCEEDED, callback_url="http://hook", result={"chunks": 2})

    [(kind, payload)] = route(job)

    assert kind == JobKind.CALLBACK
    assert payload["url"] == "http://hook" and payload["for_job"] == "j1"
    assert json.loads(payload["body"]) == outcome_body(job)


def test_webhooks_get_the_events_their_patterns_and_collections_match() -> None:
    job = finished(JobKind.INGEST, JobStatus.SUCCEEDED, result={"version": 1})
    webhooks = [
        WebhookSettings(url="http://all"),
        WebhookSettings(url="http://documents", kinds=["document.*"]),
        WebhookSettings(url="http://elsewhere", collections=["other"]),
    ]

    deliveries = route(job, webhooks=webhooks)

    sent = [(p["url"], json.loads(p["body"])["kind"]) for _, p in deliveries]
    assert sent == [
        ("http://all", "job.succeeded"),
        ("http://all", "document.indexed"),
        ("http://documents", "document.indexed"),
    ]
    body = json.loads(deliveries[-1][1]["body"])
    assert body == {
        "event_id": 11,
        "kind": "document.indexed",
        "collection": "docs",
        "document_id": "d1",
        "job_id": "j1",
        "created_at": 6.0,
        "data": {"version": 1},
    }
    assert deliveries[-1][1]["event_id"] == 11


def test_the_event_stream_gets_the_kinds_it_wants_with_the_event_id_header() -> None:
    job = finished(JobKind.INGEST, JobStatus.DEAD, error_type="unprocessable_document", error_message="bad")

    [(kind, payload)] = route(job, stream_url="redis://broker", stream="events", stream_kinds=["document.*"])

    assert kind == JobKind.STREAM_PUBLISH
    assert (payload["url"], payload["stream"], payload["key"]) == ("redis://broker", "events", "docs/d1")
    assert payload["headers"] == {EVENT_ID_HEADER: "11", "ragworks-event-kind": "document.failed"}
    assert json.loads(payload["value"])["data"]["error"]["code"] == "unprocessable_document"


def test_a_succeeded_service_request_from_a_stream_gets_its_result_with_200() -> None:
    job = finished(
        JobKind.SERVICE_RUN,
        JobStatus.SUCCEEDED,
        collection=None,
        document_id=None,
        payload={"service": "answer", "reply": REPLY},
        result={"answer": "because"},
    )

    [(kind, payload)] = route(job)

    assert kind == JobKind.STREAM_PUBLISH
    assert (payload["url"], payload["stream"], payload["key"]) == (REPLY["url"], "answers", "corr-7")
    assert json.loads(payload["value"]) == {
        "correlation_id": "corr-7",
        "service": "answer",
        "status": "succeeded",
        "status_code": 200,
        "job_id": "j1",
        "result": {"answer": "because"},
    }
    assert payload["headers"] == {EVENT_ID_HEADER: "10"}


def test_a_dead_service_request_gets_its_error_and_a_dead_letter_with_the_failure_headers() -> None:
    history = [{"attempt": 2, "error_type": "llm_error", "status_code": 502, "error_class": "LLMError"}]
    job = finished(
        JobKind.SERVICE_RUN,
        JobStatus.DEAD,
        collection=None,
        document_id=None,
        attempts=2,
        payload={"service": "answer", "reply": REPLY},
        error_type="llm_error",
        error_message="the LLM server is unreachable",
        history=history,
    )

    (_, result), (_, letter) = route(job)

    assert result["stream"] == "answers"
    body = json.loads(result["value"])
    assert (body["status"], body["status_code"]) == ("failed", 502)
    assert body["error"] == {"code": "llm_error", "message": "the LLM server is unreachable"}
    assert (letter["stream"], letter["value"]) == ("requests.dead", REPLY["message"])
    assert letter["headers"] == {
        "tenant": "acme",
        PREFIX + "source.stream": "requests",
        PREFIX + "source.position": "1700000000000-0",
        PREFIX + "stage": "service",
        PREFIX + "class": "LLMError",
        PREFIX + "message": "the LLM server is unreachable",
        PREFIX + "attempts": "2",
        PREFIX + "status_code": "502",
        EVENT_ID_HEADER: "10",
    }


def test_a_dead_job_without_a_recorded_status_reports_500_and_no_dead_letter_stream_means_none() -> None:
    job = finished(
        JobKind.SERVICE_RUN,
        JobStatus.DEAD,
        payload={"service": "echo", "reply": {**REPLY, "dead_letter": None}},
        error_type="RuntimeError",
        error_message="boom",
    )

    [(_, result)] = route(job)

    assert json.loads(result["value"])["status_code"] == 500


def test_deliveries_of_delivery_jobs_are_never_routed() -> None:
    for kind in (JobKind.CALLBACK, JobKind.STREAM_PUBLISH):
        job = finished(kind, JobStatus.DEAD, error_type="callback_failed", error_message="down")

        assert route(job, webhooks=[WebhookSettings(url="http://all")], stream_url="redis://b") == []


def test_a_superseded_ingest_is_not_announced_as_indexed() -> None:
    job = finished(JobKind.INGEST, JobStatus.SUCCEEDED, result={"skipped": "superseded by a newer version"})

    assert [kind for kind, _ in events_of(job)] == ["job.succeeded"]


def test_a_succeeded_delete_announces_the_deleted_document() -> None:
    job = finished(JobKind.DELETE, JobStatus.SUCCEEDED, result={"document_id": "d1", "chunks_removed": 4})

    assert [kind for kind, _ in events_of(job)] == ["job.succeeded", "document.deleted"]
