"""The ``openai`` provider: any OpenAI-compatible server (vLLM, Ollama, llama.cpp server, OpenAI).

``api = "completions"`` sends the prompt to ``/completions`` as is; ``api = "chat"`` sends it to
``/chat/completions`` as one user message (for servers or models that only offer chat). The server holds
the model: ``llm.context_tokens`` must match the window it serves, and prompt token counts are estimates
(servers share no tokenize endpoint).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator

import anyio.from_thread
import anyio.lowlevel
import openai
from openai.types.chat import ChatCompletionUserMessageParam

from ragworks.config import LLMSettings
from ragworks.engines.llm.base import Generation, GenerationParams, LLMError, LLMTimeout, LLMUnreachable

# HTTP answers that say the server (or whatever is behind its proxy) is not there right now
UNAVAILABLE_STATUS = (502, 503)
GATEWAY_TIMEOUT = 504

# What a request can fail with (the SDK wraps transport errors, also those met while reading a stream)
_FAILURES = (openai.OpenAIError,)


class OpenAICompatibleLLM:
    """A client of an OpenAI-compatible server."""

    provider = "openai"
    generative = True

    def __init__(self, settings: LLMSettings) -> None:
        self._settings = settings
        self.model = settings.model
        self.context_tokens = settings.context_tokens
        self._started = False
        self._client: openai.AsyncOpenAI | None = None
        self._client_loop: anyio.lowlevel.EventLoopToken | None = None

    def start(self) -> None:
        """Check the settings; the server need not be up yet (see ``check``).

        Raises:
            LLMError: ``llm.base_url`` or ``llm.model`` is missing.
        """
        if not self._settings.base_url:
            raise LLMError("llm.provider 'openai' needs llm.base_url (e.g. http://localhost:8001/v1)")
        if not self.model:
            raise LLMError("llm.provider 'openai' needs llm.model (the model name the server serves)")
        self._started = True

    def close(self) -> None:
        """Close the client's connections, when called off its event loop while that loop still runs (as
        the app's shutdown does, from a worker thread); otherwise just drop the client."""
        client, loop = self._client, self._client_loop
        self._started, self._client, self._client_loop = False, None, None
        if client is None or loop is None or _running_here(loop):
            return  # nothing opened, or on the loop itself, where nothing can be waited for
        with contextlib.suppress(anyio.RunFinishedError):  # the loop has ended: nothing left to close
            anyio.from_thread.run(client.close, token=loop)

    async def aclose(self) -> None:
        """``close`` from async code: closes the client's connections."""
        client = self._client
        self._started, self._client, self._client_loop = False, None, None
        if client is not None:
            await client.close()

    def count_tokens(self, text: str) -> int:
        """An estimate that errs high: one token per 3 UTF-8 bytes (English averages about 4 bytes a
        token; a Korean syllable is 3 bytes and about one token)."""
        return math.ceil(len(text.encode("utf-8")) / 3)

    async def check(self) -> None:
        """Ask the server for its models (a readiness probe).

        Raises:
            LLMError: the server is unreachable or refuses the request.
        """
        try:
            await self._require().models.list()
        except _FAILURES as exc:
            raise self._error(exc, "list models") from exc

    async def generate(self, prompt: str, params: GenerationParams) -> Generation:
        """Complete ``prompt`` in one request (the SDK retries ``llm.max_retries`` times)."""
        client, model = self._require(), self.model
        stop, seed = list(params.stop) or None, params.seed
        try:
            if self._settings.api == "chat":
                chat = await client.chat.completions.create(
                    model=model, messages=[_user(prompt)], max_tokens=params.max_tokens,
                    temperature=params.temperature, top_p=params.top_p, stop=stop, seed=seed,
                )  # fmt: skip
                text = chat.choices[0].message.content or ""
                finish, usage = chat.choices[0].finish_reason, chat.usage
            else:
                completion = await client.completions.create(
                    model=model, prompt=prompt, max_tokens=params.max_tokens,
                    temperature=params.temperature, top_p=params.top_p, stop=stop, seed=seed,
                )  # fmt: skip
                text = completion.choices[0].text
                finish, usage = completion.choices[0].finish_reason, completion.usage
        except _FAILURES as exc:
            raise self._error(exc, "generate") from exc
        return Generation(
            text=text,
            finish_reason="length" if finish == "length" else "stop",
            prompt_tokens=usage.prompt_tokens if usage else self.count_tokens(prompt),
            completion_tokens=usage.completion_tokens if usage else self.count_tokens(text),
        )

    async def stream(self, prompt: str, params: GenerationParams) -> AsyncIterator[str]:
        """Complete ``prompt`` from server-sent events. Leaving early closes the response; servers stop
        generating when their client goes away."""
        client, model = self._require(), self.model
        stop, seed = list(params.stop) or None, params.seed
        try:
            if self._settings.api == "chat":
                chat = await client.chat.completions.create(
                    model=model, messages=[_user(prompt)], max_tokens=params.max_tokens,
                    temperature=params.temperature, top_p=params.top_p, stop=stop, seed=seed, stream=True,
                )  # fmt: skip
                try:
                    async for chat_event in chat:
                        if chat_event.choices and (piece := chat_event.choices[0].delta.content):
                            yield piece
                finally:
                    await chat.close()
            else:
                completion = await client.completions.create(
                    model=model, prompt=prompt, max_tokens=params.max_tokens,
                    temperature=params.temperature, top_p=params.top_p, stop=stop, seed=seed, stream=True,
                )  # fmt: skip
                try:
                    async for event in completion:
                        if event.choices and (piece := event.choices[0].text):
                            yield piece
                finally:
                    await completion.close()
        except _FAILURES as exc:
            raise self._error(exc, "stream") from exc

    def _require(self) -> openai.AsyncOpenAI:
        """The client for the running event loop (its pooled connections belong to one loop)."""
        if not self._started:
            raise LLMError("the openai LLM client is not started (or closed)")
        loop = anyio.lowlevel.current_token()
        if self._client is None or self._client_loop != loop:
            self._client, self._client_loop = self._new_client(), loop
        return self._client

    def _new_client(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            base_url=self._settings.base_url,
            api_key=self._settings.api_key.get_secret_value(),
            timeout=self._settings.timeout_s,
            max_retries=self._settings.max_retries,
        )

    def _error(self, exc: Exception, action: str) -> LLMError:
        """The port's error for a failed request: a timeout and a lost connection get their own class
        (504, 503), so callers can tell a hung or absent server from one that answered with an error;
        a 502 or 503 answer (starting, stopping, no upstream) counts as absent, a 504 as hung."""
        where = f"OpenAI-compatible server {self._settings.base_url} (model {self.model!r})"
        if isinstance(exc, openai.APITimeoutError):  # a subclass of APIConnectionError: tested first
            return LLMTimeout(f"{action}: {where} did not answer within {self._settings.timeout_s:g} s")
        if isinstance(exc, openai.APIConnectionError):
            return LLMUnreachable(f"{action}: {where} is unreachable: {exc.__cause__ or exc}")
        if isinstance(exc, openai.APIStatusError):
            answered = f"{action}: {where} answered HTTP {exc.status_code}: {exc.message}"
            if exc.status_code in UNAVAILABLE_STATUS:  # starting, stopping, or no upstream behind a proxy
                return LLMUnreachable(answered)
            if exc.status_code == GATEWAY_TIMEOUT:
                return LLMTimeout(answered)
            return LLMError(answered)
        return LLMError(f"{action}: {where} failed: {type(exc).__name__}: {exc}")


def _running_here(loop: anyio.lowlevel.EventLoopToken) -> bool:
    try:
        return anyio.lowlevel.current_token() == loop
    except anyio.NoEventLoopError:
        return False


def _user(prompt: str) -> ChatCompletionUserMessageParam:
    return {"role": "user", "content": prompt}
