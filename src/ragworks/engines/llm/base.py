"""The LLM port: a prompt in, generated text out (whole, or streamed piece by piece).

Prompts are plain completion prompts: the default model (Gemma 3 270M) is a base model with no chat
template, and completion prompting works on every OpenAI-compatible server too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from ragworks.errors import RagworksError


class LLMError(RagworksError):
    """The model could not produce an answer (server down, timeout, model failure); retrying may help."""

    status_code = 502
    code = "llm_error"


class LLMUnreachable(LLMError):
    """The LLM server refused or dropped the connection, or said it is unavailable (down, restarting):
    a 503 for a caller, a retried attempt for a background call."""

    status_code = 503
    code = "llm_unreachable"
    outage = True


class LLMTimeout(LLMError):
    """The LLM server took the connection but did not answer within ``llm.timeout_s`` (hung or
    overloaded): a 504 for a caller, a retried attempt for a background call."""

    status_code = 504
    code = "llm_timeout"


class LLMUnavailable(RagworksError):
    """Generation was asked of a provider that has no model (``extractive``)."""

    status_code = 501
    code = "llm_unavailable"


@dataclass(frozen=True, slots=True)
class GenerationParams:
    """How to generate: length, sampling and where to stop."""

    max_tokens: int = 256
    temperature: float = 0.2
    top_p: float = 0.95
    stop: tuple[str, ...] = ()
    seed: int | None = None


@dataclass(frozen=True, slots=True)
class Generation:
    """A finished generation. ``finish_reason`` is ``"stop"`` (natural end or a stop string) or
    ``"length"`` (``max_tokens`` reached)."""

    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int


class LLM(Protocol):
    """A text generator.

    ``generative`` is False for the ``extractive`` provider: it has no model, and services build their
    output from source sentences instead (and say so in their response).
    ``context_tokens`` is the window the prompt and the output share.
    """

    provider: str
    model: str
    generative: bool
    context_tokens: int

    def start(self) -> None:
        """Load the model or open the client (heavy; called once at start-up, never from a constructor).

        Raises:
            LLMError: the model cannot be loaded or the server settings are unusable.
        """

    def close(self) -> None:
        """Free the model or client."""

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` in the model's tokenizer (an estimate where the model is remote)."""

    async def generate(self, prompt: str, params: GenerationParams) -> Generation:
        """Complete ``prompt``; never blocks the event loop.

        Raises:
            LLMError: generation failed (after the adapter's own retries); a server that cannot be
                reached raises its subclass LLMUnreachable (503), one that does not answer in time
                LLMTimeout (504).
            LLMUnavailable: the provider has no model.
        """

    def stream(self, prompt: str, params: GenerationParams) -> AsyncIterator[str]:
        """Complete ``prompt``, yielding text pieces as the model produces them.

        Raises:
            LLMError: generation failed (before or while streaming).
            LLMUnavailable: the provider has no model.
        """
