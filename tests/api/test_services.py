"""Generated service routes: sync, streamed, background with signed callbacks, errors, metrics."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from helpers.receiver import receiver
from ragworks.app import create_app
from ragworks.config import CallbackSettings, JobSettings, ServiceSettings, Settings

SECRET = "test-callback-secret"

LOCAL_SERVICES = {
    "echo.py": """
from pydantic import BaseModel, Field
from ragworks.services.base import Service, ServiceContext


class Input(BaseModel):
    text: str = Field(..., min_length=1)
    times: int = Field(1, ge=1, le=5)


class Output(BaseModel):
    text: str


async def run(data: Input, ctx: ServiceContext) -> Output:
    return Output(text=" ".join([data.text] * data.times))


SERVICE = Service(name="echo", summary="Repeats the text", input=Input, output=Output, run=run)
""",
    "shout_twice.py": """
from pydantic import BaseModel
from ragworks.services.base import Service, ServiceContext


class Input(BaseModel):
    text: str


class Output(BaseModel):
    text: str


async def run(data: Input, ctx: ServiceContext) -> Output:
    echoed = await ctx.call_named("echo", {"text": data.text.upper(), "times": 2})
    return Output(text=echoed.text)  # type: ignore[attr-defined]


SERVICE = Service(name="shout_twice", summary="Composes echo", input=Input, output=Output, run=run)
""",
    "boom.py": """
from pydantic import BaseModel
from ragworks.services.base import Service, ServiceContext


class Input(BaseModel):
    text: str = "x"


class Output(BaseModel):
    text: str


async def run(data: Input, ctx: ServiceContext) -> Output:
    raise RuntimeError("the model exploded")


SERVICE = Service(name="boom", summary="Always fails", input=Input, output=Output, run=run)
""",
}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """An app with three local services and a known callback secret."""
    services = tmp_path_factory.mktemp("services")
    for name, source in LOCAL_SERVICES.items():
        (services / name).write_text(source)
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("data"),
        log_json=False,
        jobs=JobSettings(poll_interval_s=0.1, backoff_base_s=0.05, backoff_max_s=0.2),
        services=ServiceSettings(local_dir=services, entry_points=False, max_attempts=2),
        callbacks=CallbackSettings(secret=SECRET, max_attempts=3, timeout_s=2.0),
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def finished_job(client: TestClient, job_id: str, timeout_s: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "dead", "cancelled"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


def test_the_listing_shows_every_service_with_its_schemas(client: TestClient) -> None:
    listed = {s["name"]: s for s in client.get("/v1/services").json()["services"]}
    assert {"retrieve", "echo", "shout_twice", "boom"} <= set(listed)
    assert listed["echo"]["routes"] == ["/v1/services/echo"]
    assert "/v1/retrieve" in listed["retrieve"]["routes"]
    assert listed["echo"]["input_schema"]["properties"]["text"]["type"] == "string"
    assert "text" in listed["echo"]["output_schema"]["properties"]


def test_every_service_has_a_documented_route(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/v1/services/echo" in paths
    assert "/v1/retrieve" in paths
    body = paths["/v1/services/echo"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"].endswith("EchoRequest")


def test_a_call_returns_the_output(client: TestClient) -> None:
    response = client.post("/v1/services/echo", json={"text": "hi", "times": 3})
    assert response.status_code == 200, response.text
    assert response.json() == {"text": "hi hi hi"}


def test_invalid_input_is_a_422_with_the_fields(client: TestClient) -> None:
    response = client.post("/v1/services/echo", json={"text": "", "times": 9})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert {tuple(d["loc"])[-1] for d in error["details"]} == {"text", "times"}


def test_an_unknown_service_is_404(client: TestClient) -> None:
    response = client.post("/v1/services/nope", json={})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_failing_service_is_a_500_with_the_error_shape(client: TestClient) -> None:
    as_a_client_sees_it = TestClient(client.app, raise_server_exceptions=False)
    response = as_a_client_sees_it.post("/v1/services/boom", json={})
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"


def test_services_compose_through_the_context(client: TestClient) -> None:
    response = client.post("/v1/services/shout_twice", json={"text": "hey"})
    assert response.json() == {"text": "HEY HEY"}
    metrics = client.get("/metrics").text
    assert 'service_calls_total{mode="nested",outcome="ok",service="echo"}' in metrics
    assert 'service_calls_total{mode="sync",outcome="ok",service="shout_twice"}' in metrics


def test_a_service_without_streaming_streams_its_done_event(client: TestClient) -> None:
    with client.stream("POST", "/v1/services/echo", json={"text": "hi", "stream": True}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        body = "".join(response.iter_text())
    assert body == 'event: done\ndata: {"text": "hi"}\n\n'


def test_async_returns_202_and_the_result_lands_in_the_job(client: TestClient) -> None:
    response = client.post("/v1/services/echo", json={"text": "later", "times": 2, "async": True})
    assert response.status_code == 202
    accepted = response.json()
    assert response.headers["location"] == accepted["status_url"] == f"/v1/jobs/{accepted['job_id']}"
    job = finished_job(client, accepted["job_id"])
    assert job["kind"] == "service.run"
    assert job["status"] == "succeeded"
    assert job["result"] == {"text": "later later"}


def test_the_prefer_header_asks_for_background_too(client: TestClient) -> None:
    response = client.post(
        "/v1/retrieve",
        json={"query": "anything", "collections": ["nowhere"]},
        headers={"Prefer": "respond-async"},
    )
    assert response.status_code == 202
    job = finished_job(client, response.json()["job_id"])
    # a missing collection is a permanent error: dead at once, with the reason
    assert job["status"] == "dead"
    assert job["attempts"] == 1
    assert job["error"]["code"] == "not_found"


def test_invalid_input_is_refused_before_anything_is_queued(client: TestClient) -> None:
    response = client.post("/v1/services/echo", json={"text": "", "async": True})
    assert response.status_code == 422


def verify(body: bytes, signature: str) -> bool:
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def test_a_callback_receives_the_signed_result(client: TestClient) -> None:
    with receiver() as hook:
        response = client.post("/v1/services/echo", json={"text": "done", "callback_url": hook.url})
        assert response.status_code == 202  # a callback implies background
        (delivery,) = hook.wait_for(1)
    assert verify(delivery.body, delivery.headers["x-ragworks-signature"])
    outcome = json.loads(delivery.body)
    assert outcome["job_id"] == response.json()["job_id"] == delivery.headers["x-ragworks-job"]
    assert outcome["status"] == "succeeded"
    assert outcome["service"] == "echo"
    assert outcome["result"] == {"text": "done"}
    assert outcome["error"] is None


def test_a_failing_service_ends_dead_with_its_reason_in_the_job_and_the_callback(client: TestClient) -> None:
    with receiver() as hook:
        response = client.post("/v1/services/boom", json={"callback_url": hook.url})
        job = finished_job(client, response.json()["job_id"])
        (delivery,) = hook.wait_for(1)
    assert job["status"] == "dead"
    assert job["attempts"] == 2  # retried once (services.max_attempts = 2)
    assert job["error"] == {"code": "RuntimeError", "message": "the model exploded", "details": None}
    outcome = json.loads(delivery.body)
    assert verify(delivery.body, delivery.headers["x-ragworks-signature"])
    assert outcome["status"] == "dead"
    assert outcome["error"] == {"code": "RuntimeError", "message": "the model exploded"}
    assert outcome["result"] is None
    dead = client.get("/v1/jobs", params={"status": "dead", "kind": "service.run"}).json()["jobs"]
    assert job["id"] in {j["id"] for j in dead}


def test_a_failing_receiver_gets_the_delivery_again_with_backoff(client: TestClient) -> None:
    with receiver(fail_first=2) as hook:
        client.post("/v1/services/echo", json={"text": "retry me", "callback_url": hook.url})
        (delivery,) = hook.wait_for(1)
    assert len(hook.seen) == 3
    assert {d.body for d in hook.seen} == {delivery.body}  # the same signed body every time
    deliveries = client.get("/v1/jobs", params={"kind": "callback.deliver", "limit": 500}).json()["jobs"]
    job = next(j for j in deliveries if j["id"] == delivery.headers["x-ragworks-delivery"])
    assert job["status"] == "succeeded"
    assert [h["error_type"] for h in job["history"]] == ["callback_failed", "callback_failed"]


def test_an_unreachable_receiver_ends_in_the_dead_letter_list_and_can_be_replayed(
    client: TestClient, tmp_path: Path
) -> None:
    with receiver() as hook:
        unreachable = hook.url  # the port closes when the block ends
    response = client.post("/v1/services/echo", json={"text": "x", "callback_url": unreachable})
    finished_job(client, response.json()["job_id"])
    deadline = time.monotonic() + 60
    delivery: dict[str, Any] | None = None
    while delivery is None or delivery["status"] != "dead":
        assert time.monotonic() < deadline, "the delivery never went dead"
        time.sleep(0.1)
        dead = client.get("/v1/jobs", params={"status": "dead", "kind": "callback.deliver"}).json()["jobs"]
        delivery = next((j for j in dead if j["result"] is None and j["attempts"] == 3), None)
    assert delivery["error"]["code"] == "callback_failed"
    assert "ConnectError" in delivery["error"]["message"]
    assert tmp_path.exists()
