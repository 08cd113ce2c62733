"""A real ``ragworks serve`` with the bundled model, and the official ``openai`` client pointed at it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import openai

from helpers.server import Server

MODEL_ENV = {
    "RAGWORKS_LLM__PROVIDER": "llamacpp",
    "RAGWORKS_LLM__CONTEXT_TOKENS": "2048",
    "RAGWORKS_LLM__THREADS": "1",  # see helpers.service_app.model_settings
}


@contextmanager
def model_server(data_dir: Path) -> Iterator[Server]:
    """A started server whose LLM is the bundled model."""
    server = Server(data_dir)
    try:
        with environment(MODEL_ENV):  # the server process inherits it when it starts
            server.start()
        yield server
    finally:
        server.stop()


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Environment variables set for the duration of the block."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def client_for(server: Server) -> openai.OpenAI:
    """The official client on the server's OpenAI-compatible routes (no retries: failures show at once)."""
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="not-needed", max_retries=0, timeout=120)


def sse_data(response: httpx2.Response) -> list[Any]:
    """The ``data:`` payloads of an SSE body, JSON-decoded except the final ``[DONE]``."""
    frames = [f for f in response.text.split("\n\n") if f]
    assert all(f.startswith("data: ") for f in frames), frames
    return [f[6:] if f == "data: [DONE]" else json.loads(f[6:]) for f in frames]
