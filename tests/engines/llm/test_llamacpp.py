"""LlamaCppLLM: the shared contract on the real bundled Gemma 3 270M, in-process; loading and its errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ragworks.config import LLMSettings
from ragworks.engines.llm.base import LLM, GenerationParams, LLMError
from ragworks.engines.llm.llamacpp import LlamaCppLLM
from ragworks.engines.llm.providers import build_llm
from ragworks.testing.llm_contract import COUNTING, GREEDY, GenerativeLLMContract, collect

pytestmark = pytest.mark.integration

CONTEXT = 2048
# One thread: on a busy shared machine llama.cpp's spinning thread barriers make more threads far slower
THREADS = 1


@pytest.fixture(scope="module")
def loaded() -> Iterator[LlamaCppLLM]:
    """The bundled model, loaded once for the module."""
    adapter = LlamaCppLLM(LLMSettings(provider="llamacpp", context_tokens=CONTEXT, threads=THREADS))
    adapter.start()
    yield adapter
    adapter.close()


class TestLlamaCppLLM(GenerativeLLMContract):
    @pytest.fixture
    def llm(self, loaded: LlamaCppLLM) -> LLM:
        return loaded


def test_the_llamacpp_setting_builds_it() -> None:
    assert isinstance(build_llm(LLMSettings(provider="llamacpp")), LlamaCppLLM)


def test_the_bundled_model_is_a_gguf_file(gguf: Path) -> None:
    with gguf.open("rb") as file:
        assert file.read(4) == b"GGUF"


def test_count_tokens_uses_the_model_tokenizer(loaded: LlamaCppLLM) -> None:
    assert loaded.count_tokens("internationalisation") > 1  # one word, several subword tokens
    assert loaded.count_tokens("") == 0


@pytest.mark.anyio
async def test_prompt_tokens_are_counted_tokens_plus_bos(loaded: LlamaCppLLM) -> None:
    result = await loaded.generate(COUNTING, GenerationParams(max_tokens=1, temperature=0.0))
    assert result.prompt_tokens == loaded.count_tokens(COUNTING) + 1


@pytest.mark.anyio
async def test_a_prompt_longer_than_the_window_is_an_llm_error(loaded: LlamaCppLLM) -> None:
    prompt = "word " * (CONTEXT + 100)
    with pytest.raises(LLMError, match="context window"):
        await loaded.generate(prompt, GREEDY)
    with pytest.raises(LLMError, match="context window"):
        await collect(loaded.stream(prompt, GREEDY))
    assert (await loaded.generate(COUNTING, GREEDY)).text  # the model is free again


def test_a_missing_model_file_is_an_llm_error(tmp_path: Path) -> None:
    adapter = LlamaCppLLM(LLMSettings(provider="llamacpp", model_path=tmp_path / "absent.gguf"))
    with pytest.raises(LLMError, match="not found"):
        adapter.start()


def test_a_corrupt_model_file_is_an_llm_error_and_prints_nothing(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    corrupt = tmp_path / "corrupt.gguf"
    corrupt.write_bytes(b"GGUF" + b"\x00" * 4096)
    adapter = LlamaCppLLM(LLMSettings(provider="llamacpp", model_path=corrupt, load="start"))
    with pytest.raises(LLMError, match="cannot load"):
        adapter.start()
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""


def test_a_file_that_is_not_gguf_is_refused_at_start_even_when_loading_later(tmp_path: Path) -> None:
    text = tmp_path / "notes.gguf"
    text.write_text("not a model")
    with pytest.raises(LLMError, match="not a GGUF file"):
        LlamaCppLLM(LLMSettings(provider="llamacpp", model_path=text)).start()


@pytest.mark.anyio
async def test_the_model_is_loaded_on_first_use_and_a_corrupt_one_fails_that_call(
    gguf: Path, tmp_path: Path
) -> None:
    adapter = LlamaCppLLM(LLMSettings(provider="llamacpp", model_path=gguf, context_tokens=512))
    adapter.start()
    try:
        assert adapter._llama is None  # nothing held until a service needs the model
        assert adapter.count_tokens("one two") > 0
        assert adapter._llama is not None
    finally:
        adapter.close()
    corrupt = tmp_path / "corrupt.gguf"
    corrupt.write_bytes(b"GGUF" + b"\x00" * 4096)
    lazy = LlamaCppLLM(LLMSettings(provider="llamacpp", model_path=corrupt))
    lazy.start()
    with pytest.raises(LLMError, match="cannot load"):
        await lazy.generate(COUNTING, GREEDY)


@pytest.mark.anyio
async def test_loading_and_generating_print_nothing(gguf: Path, capfd: pytest.CaptureFixture[str]) -> None:
    adapter = LlamaCppLLM(LLMSettings(provider="llamacpp", model_path=gguf, context_tokens=512, threads=1))
    adapter.start()
    try:
        assert adapter.model == gguf.name
        assert (await adapter.generate(COUNTING, GenerationParams(max_tokens=2))).text
    finally:
        adapter.close()
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""


@pytest.mark.anyio
async def test_a_closed_model_refuses_to_generate(gguf: Path) -> None:
    adapter = LlamaCppLLM(LLMSettings(provider="llamacpp", model_path=gguf, context_tokens=512))
    adapter.start()
    adapter.close()
    with pytest.raises(LLMError, match="not loaded"):
        await adapter.generate(COUNTING, GREEDY)
