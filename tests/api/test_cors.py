"""CORS and request limits on the real app: preflight and simple requests from an allowed origin (429s
readable by the browser app too), CORS off without origins, the time limit (504, the work cancelled,
a started stream left alone) and the body limit on JSON routes."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import pytest
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient

from ragworks.app import create_app
from ragworks.config import CorsSettings, LLMSettings, RateLimitSettings, ServerSettings, Settings

ORIGIN = "https://app.example"
TIMEOUT_S = 1.0
MAX_BODY = 64 * 1024
BURST = 10
PROXY = "127.0.0.1"  # the test client connects from here, a trusted proxy: X-Forwarded-For is believed


class SlowWork:
    """Routes added to the app for these tests only: work that outlives the time limit."""

    def __init__(self) -> None:
        self.cancelled = anyio.Event()

    def install(self, app: FastAPI) -> None:
        app.add_api_route("/v1/test-only/slow", self.slow)
        app.add_api_route("/v1/test-only/stream", self.stream)

    async def slow(self) -> dict[str, str]:
        try:
            await anyio.sleep(30)
        except anyio.get_cancelled_exc_class():
            self.cancelled.set()
            raise
        return {"finished": "yes"}

    async def stream(self) -> StreamingResponse:
        async def events() -> AsyncIterator[bytes]:
            for n in range(4):  # 1.6 s in all, well past the limit
                yield f"data: {n}\n\n".encode()
                await anyio.sleep(0.4)

        return StreamingResponse(events(), media_type="text/event-stream")


@pytest.fixture(scope="module")
def slow_work() -> SlowWork:
    return SlowWork()


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory, slow_work: SlowWork) -> Iterator[TestClient]:
    """The app with CORS for ORIGIN, a 1 s time limit, a 64 KiB body limit and rate limits on (the
    tests share one bucket, except the one that empties its own)."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("data"),
        log_json=False,
        llm=LLMSettings(provider="extractive"),
        cors=CorsSettings(allow_origins=[ORIGIN]),
        server=ServerSettings(
            request_timeout_s=TIMEOUT_S, max_upload_bytes=MAX_BODY, trusted_proxies=[PROXY]
        ),
        rate_limits=RateLimitSettings(enabled=True, requests_per_s=0.5, burst=BURST),
    )
    app = create_app(settings)
    slow_work.install(app)
    with TestClient(app, client=(PROXY, 50000)) as client:
        yield client


def test_a_preflight_from_an_allowed_origin_is_answered(guarded: TestClient) -> None:
    response = guarded.options(
        "/v1/collections",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    allowed_headers = response.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed_headers
    assert "x-api-key" in allowed_headers
    assert response.headers["Access-Control-Max-Age"] == "600"
    assert "RateLimit-Limit" not in response.headers  # preflights never reach the rate limits


def test_a_preflight_from_another_origin_is_refused(guarded: TestClient) -> None:
    response = guarded.options(
        "/v1/collections",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 400
    assert "Access-Control-Allow-Origin" not in response.headers


def test_a_simple_request_exposes_the_rate_limit_headers(guarded: TestClient) -> None:
    response = guarded.get("/health", headers={"Origin": ORIGIN})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    exposed = {h.strip().lower() for h in response.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"retry-after", "ratelimit-limit", "ratelimit-remaining", "x-request-id"} <= exposed


def test_a_browser_app_can_read_a_429(guarded: TestClient) -> None:
    headers = {"Origin": ORIGIN, "X-Forwarded-For": "203.0.113.99"}  # a bucket of its own
    statuses = [guarded.get("/v1/collections", headers=headers) for _ in range(BURST + 1)]
    refused = statuses[-1]
    assert refused.status_code == 429
    assert refused.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert int(refused.headers["Retry-After"]) >= 1


def test_without_origins_there_are_no_cors_headers(client: TestClient) -> None:
    """The package's app: ``cors.allow_origins`` empty, the default."""
    simple = client.get("/health", headers={"Origin": ORIGIN})
    assert "Access-Control-Allow-Origin" not in simple.headers
    preflight = client.options(
        "/v1/collections", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers


def test_credentials_for_any_origin_are_refused_at_start(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, cors=CorsSettings(allow_origins=["*"], allow_credentials=True))
    with pytest.raises(ValueError, match="allow_credentials"):
        create_app(settings)


def test_a_request_past_the_time_limit_is_cancelled_with_504(
    guarded: TestClient, slow_work: SlowWork
) -> None:
    started = time.monotonic()
    response = guarded.get("/v1/test-only/slow")
    elapsed = time.monotonic() - started
    assert response.status_code == 504
    error = response.json()["error"]
    assert error["code"] == "request_timeout"
    assert error["details"] == {"timeout_s": TIMEOUT_S}
    assert TIMEOUT_S <= elapsed < TIMEOUT_S + 2
    assert slow_work.cancelled.is_set()  # the route's work was stopped, not left running
    assert response.headers["X-Request-ID"]
    assert 'route="/v1/test-only/slow",status="504"' in guarded.get("/metrics").text


def test_a_stream_that_has_started_outlives_the_time_limit(guarded: TestClient) -> None:
    started = time.monotonic()
    response = guarded.get("/v1/test-only/stream")
    assert response.status_code == 200
    assert time.monotonic() - started > TIMEOUT_S
    assert response.text == "".join(f"data: {n}\n\n" for n in range(4))


def test_quick_requests_are_not_touched_by_the_time_limit(guarded: TestClient) -> None:
    assert guarded.get("/ready").status_code == 200


@pytest.mark.parametrize(
    "path",
    ["/v1/chat/completions", "/v1/embeddings", "/v1/retrieve", "/v1/collections/any/documents"],
)
def test_json_bodies_are_held_to_the_body_limit(guarded: TestClient, path: str) -> None:
    body = b'{"input": "' + b"x" * MAX_BODY + b'"}'
    response = guarded.post(path, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


BOUNDARY = "limit-test-boundary"
FILE_PART = (
    f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="big.txt"\r\n'
    "Content-Type: text/plain\r\n\r\n"
).encode()


@pytest.mark.parametrize(
    ("path", "content_type", "head", "tail"),
    [
        ("/v1/embeddings", "application/json", b'{"input": "', b'"}'),
        ("/v1/collections/any/documents", "application/json", b'{"text": "', b'"}'),
        (
            "/v1/collections/any/documents",
            f"multipart/form-data; boundary={BOUNDARY}",
            FILE_PART,
            f"\r\n--{BOUNDARY}--\r\n".encode(),
        ),
    ],
)
def test_a_chunked_body_is_held_to_the_body_limit(
    guarded: TestClient, path: str, content_type: str, head: bytes, tail: bytes
) -> None:
    """No Content-Length: the limit is enforced while the body streams in, and is still a 413."""
    pieces = [head] + [b"x" * 1024] * (MAX_BODY // 1024 + 1) + [tail]
    response = guarded.post(path, content=iter(pieces), headers={"Content-Type": content_type})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
