"""Webhooks end to end: an uploaded document's ``document.indexed`` event reaches a real HTTP receiver,
signed, from a real app (model, index, SQLite, workers)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from helpers.api import upload, wait_for_job
from helpers.receiver import Receiver, receiver
from ragworks.app import create_app
from ragworks.config import (
    CallbackSettings,
    EventSettings,
    JobSettings,
    LLMSettings,
    Settings,
    WebhookSettings,
)

SECRET = "webhook-secret"


@pytest.fixture(scope="module")
def hook() -> Iterator[Receiver]:
    with receiver() as running:
        yield running


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, hook: Receiver) -> Iterator[TestClient]:
    """An app whose one webhook wants the document events of the collection 'hooked'."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("data"),
        log_json=False,
        jobs=JobSettings(poll_interval_s=0.1, backoff_base_s=0.05, backoff_max_s=0.2),
        llm=LLMSettings(provider="extractive"),
        callbacks=CallbackSettings(secret=SECRET, max_attempts=3, timeout_s=2.0),
        events=EventSettings(
            webhooks=[WebhookSettings(url=hook.url, kinds=["document.*"], collections=["hooked"])]
        ),
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_a_webhook_receives_a_signed_document_indexed_event(client: TestClient, hook: Receiver) -> None:
    assert client.post("/v1/collections", json={"name": "hooked"}).status_code == 201
    response = upload(client, "hooked", [("notes.txt", b"Webhooks are told when a document is ready.")])
    assert response.status_code == 202, response.text
    [accepted] = response.json()["documents"]
    job = wait_for_job(client, accepted["job_id"])
    assert job["status"] == "succeeded"

    [delivery] = hook.wait_for(1)

    expected = "sha256=" + hmac.new(SECRET.encode(), delivery.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, delivery.headers["x-ragworks-signature"])
    event = json.loads(delivery.body)
    assert (event["kind"], event["collection"]) == ("document.indexed", "hooked")
    assert (event["document_id"], event["job_id"]) == (accepted["id"], accepted["job_id"])
    assert event["data"]["chunks"] >= 1
    assert delivery.headers["x-ragworks-event"] == str(event["event_id"])


def test_a_collection_the_webhook_did_not_ask_for_sends_nothing(client: TestClient, hook: Receiver) -> None:
    before = len(hook.seen)
    assert client.post("/v1/collections", json={"name": "quiet"}).status_code == 201
    [accepted] = upload(client, "quiet", [("a.txt", b"Nobody listens to this collection.")]).json()[
        "documents"
    ]
    assert wait_for_job(client, accepted["job_id"])["status"] == "succeeded"

    # the delivery would have been enqueued with the outcome: no callback job exists for it
    jobs = client.get("/v1/jobs", params={"kind": "callback.deliver", "limit": 500}).json()["jobs"]
    assert len(jobs) == before
