"""`ragworks serve --streams`: the embedded server consumes a real Redis stream. Documents become
searchable; a summarize request gets its result on the result stream; with the LLM server down it gets
the error with its status code, and the request a dead letter."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from helpers.postgres import free_port
from ragworks.app import create_app
from ragworks.config import JobSettings, LLMSettings, ServiceSettings, Settings
from ragworks.engines.streams.base import SourceOptions, StreamMessage
from ragworks.engines.streams.providers import open_publisher, open_source
from ragworks.streams.config import StreamsConfig


def _publish(url: str, stream: str, *bodies: dict[str, Any]) -> None:
    async def run() -> None:
        publisher = open_publisher(url)
        await publisher.start()
        try:
            for body in bodies:
                await publisher.publish(stream, json.dumps(body).encode())
        finally:
            await publisher.close()

    asyncio.run(run())


def _read(url: str, stream: str, want: int, timeout_s: float = 120) -> list[StreamMessage]:
    """Wait until ``stream`` holds ``want`` messages; returns them."""

    async def run() -> list[StreamMessage]:
        reader = open_source(url, stream, SourceOptions(group=f"test-{uuid.uuid4().hex[:6]}", consumer="t"))
        await reader.start()
        got: list[StreamMessage] = []
        deadline = time.monotonic() + timeout_s
        try:
            while len(got) < want and time.monotonic() < deadline:
                got += await reader.fetch(100, 0.5)
        finally:
            await reader.close()
        return got

    messages = asyncio.run(run())
    assert len(messages) >= want, f"{len(messages)} of {want} messages on {stream} after {timeout_s} s"
    return messages


def _streams(url: str, name: str) -> StreamsConfig:
    return StreamsConfig.model_validate(
        {
            "consumer": {"wait_s": 0.2},
            "sources": [
                {
                    "url": url,
                    "stream": f"docs-{name}",
                    "collection": "news",
                    "dead_letter": f"docs-dlq-{name}",
                },
                {
                    "url": url,
                    "stream": f"req-{name}",
                    "kind": "services",
                    "results": f"res-{name}",
                    "dead_letter": f"req-dlq-{name}",
                },
            ],
        }
    )


def _app(data_dir: Path, llm: LLMSettings, streams: StreamsConfig) -> TestClient:
    settings = Settings(
        data_dir=data_dir,
        log_json=False,
        jobs=JobSettings(poll_interval_s=0.1, backoff_base_s=0.05, backoff_max_s=0.2),
        services=ServiceSettings(max_attempts=2),
        llm=llm,
    )
    return TestClient(create_app(settings, streams=streams))


@pytest.fixture
def name() -> Iterator[str]:
    yield uuid.uuid4().hex[:8]


def test_documents_and_a_summarize_request_through_the_embedded_server(
    redis_url: str, tmp_path: Path, name: str
) -> None:
    streams = _streams(redis_url, name)
    with _app(tmp_path / "data", LLMSettings(provider="extractive"), streams) as client:
        _publish(
            redis_url,
            f"docs-{name}",
            {"id": "ko", "text": "서울 지사의 환불 정책은 30일입니다."},
            {"id": "en", "title": "Refunds", "text": "Refunds are accepted within thirty days."},
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            statuses = [
                client.get(f"/v1/collections/news/documents/{d}").json().get("status") for d in ("ko", "en")
            ]
            if statuses == ["ready", "ready"]:
                break
            time.sleep(0.2)
        hits = client.post("/v1/retrieve", json={"query": "환불 정책", "collections": ["news"]}).json()[
            "results"
        ]
        assert hits and hits[0]["document_id"] == "ko"

        request = {"service": "summarize", "input": {"text": "Refunds are accepted within thirty days. " * 5}}
        _publish(redis_url, f"req-{name}", {**request, "correlation_id": "c-1"})
        (result,) = _read(redis_url, f"res-{name}", 1)
        body = json.loads(result.value or b"")
        assert (body["correlation_id"], body["status"], body["status_code"]) == ("c-1", "succeeded", 200)
        assert body["result"]["summary"]
        metrics = client.get("/metrics").text
        assert f'ragworks_stream_messages_total{{outcome="created",source="docs-{name}"}} 2.0' in metrics


def test_with_the_llm_server_down_a_request_gets_its_error_and_a_dead_letter(
    redis_url: str, tmp_path: Path, name: str
) -> None:
    down = LLMSettings(
        provider="openai", base_url=f"http://127.0.0.1:{free_port()}/v1", model="m", max_retries=0
    )
    streams = _streams(redis_url, name)
    with _app(tmp_path / "data", down, streams):
        _publish(
            redis_url,
            f"req-{name}",
            {"service": "summarize", "input": {"text": "Some text. " * 5}, "correlation_id": "c-9"},
        )
        (result,) = _read(redis_url, f"res-{name}", 1)
        (letter,) = _read(redis_url, f"req-dlq-{name}", 1)
    body = json.loads(result.value or b"")
    assert (body["correlation_id"], body["status"]) == ("c-9", "failed")
    assert body["status_code"] in (502, 503, 504) and body["error"]["message"]
    headers = letter.headers
    assert headers["ragworks.errors.stage"] == "service"
    assert headers["ragworks.errors.attempts"] == "2"
    assert headers["ragworks.errors.status_code"] == str(body["status_code"])
    assert headers["ragworks.errors.source.stream"] == f"req-{name}"
    assert json.loads(letter.value or b"")["correlation_id"] == "c-9"  # the original request, to replay
