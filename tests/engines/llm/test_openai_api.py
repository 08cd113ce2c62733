"""OpenAICompatibleLLM against a real OpenAI-compatible server: llama-cpp-python's, as a subprocess,
serving the bundled Gemma 3 270M. The shared contract on the completions API; chat and errors besides."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import anyio.to_thread
import httpx
import pytest

from ragworks.config import LLMSettings
from ragworks.engines.llm.base import LLM, GenerationParams, LLMError, LLMTimeout, LLMUnreachable
from ragworks.engines.llm.openai_api import OpenAICompatibleLLM
from ragworks.engines.llm.providers import build_llm
from ragworks.testing.llm_contract import COUNTING, GREEDY, GenerativeLLMContract, collect

pytestmark = pytest.mark.integration

API_KEY = "test-key"
MODEL = "gemma-3-270m"
CONTEXT = 2048


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a llama-cpp-python server on a loopback port."""
    port = _free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(gguf), "--model_alias", MODEL, "--n_ctx", str(CONTEXT),
        "--n_threads", "1", "--n_threads_batch", "1",  # see THREADS in test_llamacpp.py
        "--host", "127.0.0.1", "--port", str(port), "--api_key", API_KEY,
        "--interrupt_requests", "false",  # the default cuts a stream short when another request waits
        "--chat_format", "alpaca",  # the base model ends at once in its own chat template
        "--verbose", "false",
    ]  # fmt: skip
    log = tmp_path_factory.mktemp("llm-server") / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, f"the server exited: {log.read_text()}"
            try:
                headers = {"Authorization": f"Bearer {API_KEY}"}
                if httpx.get(f"{url}/models", headers=headers, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"the server did not start: {log.read_text()}"
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # still finishing a generation whose client left
            process.kill()
            process.wait(timeout=10)


def _settings(url: str, **changes: object) -> LLMSettings:
    values: dict[str, object] = {
        "provider": "openai",
        "base_url": url,
        "api_key": API_KEY,
        "model": MODEL,
        "context_tokens": CONTEXT,
        "timeout_s": 30.0,
        "max_retries": 0,
    }
    return LLMSettings.model_validate(values | changes)


@asynccontextmanager
async def _adapter(settings: LLMSettings) -> AsyncIterator[OpenAICompatibleLLM]:
    adapter = OpenAICompatibleLLM(settings)
    adapter.start()
    try:
        yield adapter
    finally:
        await adapter.aclose()


@pytest.fixture(scope="module")
async def completions(server: str, anyio_backend: str) -> AsyncIterator[OpenAICompatibleLLM]:  # noqa: ARG001
    """The adapter on the completions API; async, so the module's tests share its event loop."""
    async with _adapter(_settings(server)) as adapter:
        yield adapter


class TestOpenAICompletions(GenerativeLLMContract):
    @pytest.fixture
    def llm(self, completions: OpenAICompatibleLLM) -> LLM:
        return completions


def test_the_openai_setting_builds_it() -> None:
    assert isinstance(build_llm(LLMSettings(provider="openai")), OpenAICompatibleLLM)


@pytest.mark.parametrize("missing", ["base_url", "model"])
def test_start_requires_a_server_and_a_model(missing: str) -> None:
    adapter = OpenAICompatibleLLM(
        _settings("http://127.0.0.1:9/v1", **{missing: None if missing == "base_url" else ""})
    )
    with pytest.raises(LLMError, match=f"llm.{missing}"):
        adapter.start()


@pytest.mark.anyio
async def test_check_reaches_the_server(completions: OpenAICompatibleLLM) -> None:
    await completions.check()


@pytest.mark.anyio
async def test_chat_api_generates_and_streams(server: str) -> None:
    question, params = "What is the capital of France?", GenerationParams(max_tokens=6, temperature=0.0)
    async with _adapter(_settings(server, api="chat")) as chat:
        result = await chat.generate(question, params)
        assert "Paris" in result.text
        assert result.completion_tokens > 0 and result.prompt_tokens > 0
        assert "".join(await collect(chat.stream(question, params))) == result.text


@pytest.mark.anyio
async def test_close_from_a_worker_thread_closes_the_connections(server: str) -> None:
    adapter = OpenAICompatibleLLM(_settings(server))
    adapter.start()
    assert (await adapter.generate(COUNTING, GREEDY)).text  # leaves a pooled connection
    await anyio.to_thread.run_sync(adapter.close)  # as the app's shutdown does
    with pytest.raises(LLMError, match="not started"):
        await adapter.generate(COUNTING, GREEDY)


@pytest.mark.anyio
async def test_an_unreachable_server_is_an_llm_error() -> None:
    url = f"http://127.0.0.1:{_free_port()}/v1"
    async with _adapter(_settings(url)) as adapter:
        with pytest.raises(LLMError, match=f"{url}.*unreachable"):
            await adapter.generate(COUNTING, GREEDY)
        with pytest.raises(LLMError, match="unreachable"):
            await collect(adapter.stream(COUNTING, GREEDY))
        with pytest.raises(LLMError, match="unreachable"):
            await adapter.check()


@contextmanager
def _answering(status: int) -> Iterator[str]:
    """A real HTTP server on a loopback port that answers every request with ``status``."""

    class Answer(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the handler's name is http.server's)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"error": {"message": "the model service is starting or stopping"}}')

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "error"), [(502, LLMUnreachable), (503, LLMUnreachable), (504, LLMTimeout), (429, LLMError)]
)
async def test_an_unavailable_answer_is_told_apart(status: int, error: type[LLMError]) -> None:
    with _answering(status) as url:
        async with _adapter(_settings(url)) as adapter:
            with pytest.raises(LLMError, match=f"answered HTTP {status}") as raised:
                await adapter.generate(COUNTING, GREEDY)
    assert type(raised.value) is error
    assert raised.value.outage == (error is LLMUnreachable)


@pytest.mark.anyio
async def test_a_refused_key_is_an_llm_error_with_the_status(server: str) -> None:
    async with _adapter(_settings(server, api_key="wrong")) as adapter:
        with pytest.raises(LLMError, match="HTTP 401"):
            await adapter.generate(COUNTING, GREEDY)


@pytest.mark.anyio
async def test_a_prompt_longer_than_the_window_is_an_llm_error(completions: OpenAICompatibleLLM) -> None:
    with pytest.raises(LLMError, match="HTTP 400"):
        await completions.generate("word " * (CONTEXT + 100), GREEDY)


@pytest.mark.anyio
async def test_a_slow_answer_is_an_llm_error(server: str) -> None:
    async with _adapter(_settings(server, timeout_s=0.01)) as adapter:
        with pytest.raises(LLMError, match="did not answer within 0.01 s"):
            await adapter.generate(COUNTING, GenerationParams(max_tokens=32, temperature=0.0))
