"""Chat completions for OpenAI-compatible clients.

The default model is a base model without a chat template, so the messages become a plain transcript
("System: ...", "User: ...", "Assistant: ...") that ends with "Assistant:" for the model to continue.
A grounded request instead runs the ``answer`` service (by name) on the last user message, and returns
its citations.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio

from ragworks.engines.llm.base import GenerationParams
from ragworks.errors import BadRequest, NotFound, RagworksError
from ragworks.observability.logging import get_request_id
from ragworks.services.base import Service
from ragworks.services.runner import ServiceRunner

ROLE_LABELS = {
    "system": "System",
    "developer": "System",
    "user": "User",
    "assistant": "Assistant",
    "tool": "Tool",
    "function": "Tool",
}
# The model must not write the next turn itself.
TURN_STOPS = ("\nUser:", "\nSystem:", "\nAssistant:", "\nTool:")
ANSWER_SERVICE = "answer"


class ContextLengthExceeded(BadRequest):
    """The messages do not fit the model's window even with only the system and last user message."""

    code = "context_length_exceeded"


class GroundingUnavailable(RagworksError):
    """A grounded chat was asked of a server without the ``answer`` service."""

    status_code = 501
    code = "grounding_unavailable"


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message, its content as plain text."""

    role: str
    content: str


@dataclass(frozen=True, slots=True)
class Grounding:
    """Answer from these collections (through the ``answer`` service) instead of the bare model."""

    collections: list[str]
    options: dict[str, Any] = field(default_factory=dict)  # e.g. top_k, passed on when answer takes them


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """What to complete, how, and whether to answer from collections instead."""

    messages: Sequence[Message]
    params: GenerationParams
    grounding: Grounding | None = None


@dataclass(frozen=True, slots=True)
class ChatResult:
    """A finished chat completion; ``grounding`` holds the answer service's other fields (citations)."""

    model: str
    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    grounding: dict[str, Any] | None = None


def served_models(runner: ServiceRunner) -> list[tuple[str, str]]:
    """(id, kind) of the models this server runs: the LLM and the embedder."""
    return [(runner.llm.model, "llm"), (runner.embedder.name, "embedding")]


def model_name(runner: ServiceRunner) -> str:
    """The language model's name, as responses report it."""
    return runner.llm.model


def build_prompt(messages: Sequence[Message], count_tokens: Callable[[str], int], budget: int) -> str:
    """The transcript prompt within ``budget`` tokens: the oldest turns go first, system text stays."""
    system = "\n\n".join(m.content.strip() for m in messages if ROLE_LABELS.get(m.role) == "System")
    turns = [
        f"{ROLE_LABELS.get(m.role, 'User')}: {m.content.strip()}"
        for m in messages
        if m.role not in ("system", "developer")
    ]
    head = f"System: {system}\n\n" if system else ""
    for start in range(max(1, len(turns))):  # the last turn always stays
        prompt = head + "\n".join([*turns[start:], "Assistant:"])
        if count_tokens(prompt) <= budget:
            return prompt
    raise ContextLengthExceeded(
        f"the messages need more than the {budget} prompt tokens the model has left",
        details={"param": "messages"},
    )


async def complete(runner: ServiceRunner, request: ChatRequest) -> ChatResult:
    """One whole chat completion."""
    if request.grounding is not None:
        return await _grounded(runner, request)
    prompt = await _prompt(runner, request)
    generation = await runner.llm.generate(prompt, _params(request))
    return ChatResult(
        model=model_name(runner),
        text=generation.text.strip(),
        finish_reason=generation.finish_reason,
        prompt_tokens=generation.prompt_tokens,
        completion_tokens=generation.completion_tokens,
    )


async def stream(runner: ServiceRunner, request: ChatRequest) -> AsyncIterator[str | ChatResult]:
    """Text pieces as they come, then the ChatResult (with the whole text)."""
    if request.grounding is not None:
        async for item in _grounded_stream(runner, request):
            yield item
        return
    prompt = await _prompt(runner, request)
    params = _params(request)
    text = ""
    async for piece in runner.llm.stream(prompt, params):
        if not text:
            piece = piece.lstrip()  # the space after "Assistant:"
        if piece:
            text += piece
            yield piece
    completion_tokens = runner.llm.count_tokens(text)
    yield ChatResult(
        model=model_name(runner),
        text=text.rstrip(),
        finish_reason="length" if completion_tokens >= params.max_tokens else "stop",
        prompt_tokens=runner.llm.count_tokens(prompt),
        completion_tokens=completion_tokens,
    )


async def _prompt(runner: ServiceRunner, request: ChatRequest) -> str:
    llm = runner.llm
    budget = llm.context_tokens - request.params.max_tokens
    if budget <= 0:
        raise BadRequest(
            f"max_tokens must leave room for the prompt in the model's {llm.context_tokens}-token window",
            details={"param": "max_tokens"},
        )
    # tokenising a long conversation several times is CPU work: not on the event loop
    return await anyio.to_thread.run_sync(build_prompt, request.messages, llm.count_tokens, budget)


def _params(request: ChatRequest) -> GenerationParams:
    p = request.params
    stops = tuple(dict.fromkeys([*p.stop, *TURN_STOPS]))
    return GenerationParams(
        max_tokens=p.max_tokens, temperature=p.temperature, top_p=p.top_p, stop=stops, seed=p.seed
    )


def _answer_call(runner: ServiceRunner, request: ChatRequest) -> tuple[Service[Any, Any], Any, str]:
    """The answer service, its input for the last user message, and that question."""
    assert request.grounding is not None
    try:
        service = runner.registry.get(ANSWER_SERVICE)
    except NotFound:
        raise GroundingUnavailable(
            "grounded chat needs the 'answer' service, which is not installed"
        ) from None
    question = next((m.content for m in reversed(request.messages) if m.role == "user"), "").strip()
    if not question:
        raise BadRequest("a grounded chat needs a user message to answer", details={"param": "messages"})
    fields = service.input.model_fields
    offered = {
        **request.grounding.options,
        "max_tokens": request.params.max_tokens,
        "temperature": request.params.temperature,
    }
    data = {"question": question, "collections": request.grounding.collections}
    data |= {k: v for k, v in offered.items() if k in fields and v is not None}
    return service, service.parse(data), question


async def _grounded(runner: ServiceRunner, request: ChatRequest) -> ChatResult:
    service, data, question = _answer_call(runner, request)
    output = await runner.run(service, data, request_id=get_request_id())
    return _grounded_result(runner, question, output.model_dump(mode="json"))


async def _grounded_stream(runner: ServiceRunner, request: ChatRequest) -> AsyncIterator[str | ChatResult]:
    service, data, question = _answer_call(runner, request)
    streamed = False
    async for event in runner.stream(service, data, request_id=get_request_id()):
        if event.event == "token" and event.data.get("text"):
            streamed = True
            yield str(event.data["text"])
        elif event.event == "done":
            result = _grounded_result(runner, question, event.data)
            if not streamed and result.text:
                yield result.text  # a service that does not stream gives its answer in one piece
            yield result


def _grounded_result(runner: ServiceRunner, question: str, output: dict[str, Any]) -> ChatResult:
    text = str(output.get("answer", ""))
    usage = output.get("usage") or {}
    return ChatResult(
        model=model_name(runner),
        text=text,
        finish_reason=str(output.get("finish_reason") or "stop"),
        prompt_tokens=int(usage.get("prompt_tokens") or runner.llm.count_tokens(question)),
        completion_tokens=int(usage.get("completion_tokens") or runner.llm.count_tokens(text)),
        grounding={k: v for k, v in output.items() if k != "answer"},
    )


def completion_id() -> str:
    """An id in OpenAI's style."""
    return f"chatcmpl-{uuid.uuid4().hex}"
