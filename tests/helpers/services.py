"""Helpers for service tests: a scripted LLM, a runner that uses it, and SSE frame parsing.

``ScriptedLLM`` stands in for the one thing a real model cannot give: exact, known output (a reply that
cites a source that does not exist, one that cites nothing, an empty one), so that the plumbing around
generation (prompt budgets, citation mapping, fallbacks, map-reduce) can be checked precisely. Tests of
what the product does with a real model use the bundled model (see ``helpers.service_app``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from fastapi.testclient import TestClient

from ragworks.engines.llm.base import Generation, GenerationParams
from ragworks.services.runner import ServiceRunner

Reply = str | Callable[[str], str]


class ScriptedLLM:
    """An LLM port whose replies are given by the test (a fixed text, or a function of the prompt).

    Tokens are whitespace words, so budgets are easy to check; every prompt is recorded.
    """

    provider = "scripted"
    model = "scripted"
    generative = True

    def __init__(self, reply: Reply, context_tokens: int = 4096) -> None:
        self.reply = reply
        self.context_tokens = context_tokens
        self.prompts: list[str] = []
        self.params: list[GenerationParams] = []

    def start(self) -> None:
        """Nothing to load."""

    def close(self) -> None:
        """Nothing to free."""

    def count_tokens(self, text: str) -> int:
        """Whitespace words."""
        return len(text.split())

    def _reply(self, prompt: str, params: GenerationParams) -> str:
        assert self.count_tokens(prompt) + params.max_tokens <= self.context_tokens, "prompt overflows"
        self.prompts.append(prompt)
        self.params.append(params)
        return self.reply(prompt) if callable(self.reply) else self.reply

    async def generate(self, prompt: str, params: GenerationParams) -> Generation:
        """The scripted reply."""
        text = self._reply(prompt, params)
        return Generation(text, "stop", self.count_tokens(prompt), self.count_tokens(text))

    async def stream(self, prompt: str, params: GenerationParams) -> AsyncIterator[str]:
        """The scripted reply, word by word."""
        text = self._reply(prompt, params)
        for i, word in enumerate(text.split(" ")):
            yield word if i == 0 else " " + word


def scripted_runner(client: TestClient, llm: ScriptedLLM) -> ServiceRunner:
    """The started app's service runner, with ``llm`` in place of its model."""
    runner: ServiceRunner = client.app.state.container.services  # type: ignore[attr-defined]
    return dataclasses.replace(runner, llm=llm)


def sse_events(lines: Iterator[str]) -> list[tuple[str, dict[str, Any]]]:
    """(event, data) pairs of a Server-Sent Events body, in order."""
    events: list[tuple[str, dict[str, Any]]] = []
    name, data = "", ""
    for line in lines:
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data = line.removeprefix("data: ")
        elif not line and name:
            events.append((name, json.loads(data)))
            name, data = "", ""
    if name:
        events.append((name, json.loads(data)))
    return events


def stream_events(client: TestClient, path: str, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """POST ``body`` with ``stream: true`` and parse the SSE frames (asserting 200 and the media type)."""
    with client.stream("POST", path, json={**body, "stream": True}) as response:
        assert response.status_code == 200, response.read().decode()
        assert response.headers["content-type"].startswith("text/event-stream")
        return sse_events(response.iter_lines())


def run_service(client: TestClient, runner: ServiceRunner, name: str, body: dict[str, Any]) -> Any:
    """Run service ``name`` through ``runner`` on the app's event loop; returns the output as JSON."""
    service = runner.registry.get(name)
    data = service.parse(body)

    async def call() -> Any:
        output = await runner.run(service, data, request_id=None)
        return output.model_dump(mode="json")

    assert client.portal is not None, "the client must be started (used as a context manager)"
    return client.portal.call(call)


def stream_service(
    client: TestClient, runner: ServiceRunner, name: str, body: dict[str, Any]
) -> list[tuple[str, dict[str, Any]]]:
    """Stream service ``name`` through ``runner`` on the app's event loop; returns its events."""
    service = runner.registry.get(name)
    data = service.parse(body)

    async def call() -> list[tuple[str, dict[str, Any]]]:
        return [(e.event, e.data) async for e in runner.stream(service, data, request_id=None)]

    assert client.portal is not None, "the client must be started (used as a context manager)"
    return client.portal.call(call)
