"""What a process knows of a model served elsewhere before it connects, and how the providers table
builds the remote and openai embedders from the settings (nothing is contacted here)."""

from __future__ import annotations

import pytest

from ragworks.config import EmbedSettings, Settings
from ragworks.engines.embed.identity import estimate_tokens, identity_from_settings, local_counter_for
from ragworks.engines.embed.openai_embeddings import OpenAIEmbedder
from ragworks.engines.embed.providers import build_embedder
from ragworks.engines.embed.remote import RemoteEmbedder


def test_the_bundled_model_is_known_by_name() -> None:
    found = identity_from_settings(EmbedSettings())

    assert (found.name, found.dimension, found.max_tokens, found.languages) == (
        "all-MiniLM-L6-v2",
        384,
        256,
        frozenset({"en"}),
    )


def test_a_publisher_prefix_names_the_same_known_model() -> None:
    found = identity_from_settings(EmbedSettings(model="sentence-transformers/all-MiniLM-L6-v2"))

    assert (found.name, found.dimension) == ("sentence-transformers/all-MiniLM-L6-v2", 384)
    assert local_counter_for(found.name) is not None


def test_settings_override_the_known_values() -> None:
    found = identity_from_settings(EmbedSettings(max_tokens=128, languages=["en", "ko"]))

    assert (found.max_tokens, found.languages) == (128, frozenset({"en", "ko"}))


def test_an_unknown_model_needs_its_dimension() -> None:
    with pytest.raises(ValueError, match=r"embed.dimension must be set for model 'bge-m3'"):
        identity_from_settings(EmbedSettings(model="bge-m3"))

    found = identity_from_settings(EmbedSettings(model="bge-m3", dimension=1024, languages=["ko"]))
    assert (found.dimension, found.max_tokens, found.languages) == (1024, 512, frozenset({"ko"}))
    assert local_counter_for("bge-m3") is None


def test_the_token_estimate_is_a_quarter_of_the_characters() -> None:
    assert [estimate_tokens(t) for t in ("", "abc", "abcd", "abcde")] == [0, 1, 1, 2]


def test_the_local_counter_counts_minilm_tokens_without_special_ones() -> None:
    counter = local_counter_for("all-MiniLM-L6-v2")

    assert counter is not None
    assert counter.count("hello world") == 2
    assert counter.count("") == 0


def test_the_providers_build_the_remote_and_openai_embedders() -> None:
    remote = build_embedder(Settings(embed=EmbedSettings(provider="remote", url="127.0.0.1:50051")))
    openai = build_embedder(
        Settings(embed=EmbedSettings(provider="openai", base_url="http://127.0.0.1:8090/v1", batch_texts=8))
    )

    assert isinstance(remote, RemoteEmbedder) and remote.target == "127.0.0.1:50051"
    assert isinstance(openai, OpenAIEmbedder) and openai.batch_texts == 8
    assert (remote.dimension, openai.dimension) == (384, 384)


@pytest.mark.parametrize(("provider", "missing"), [("remote", "embed.url"), ("openai", "embed.base_url")])
def test_a_provider_without_its_address_is_explained(provider: str, missing: str) -> None:
    with pytest.raises(ValueError, match=missing):
        build_embedder(Settings(embed=EmbedSettings(provider=provider)))  # type: ignore[arg-type]
