"""Which embedder each ``embed.provider`` setting names (one line per provider)."""

from __future__ import annotations

from collections.abc import Callable

from ragworks.config import EmbedSettings
from ragworks.engines.embed.base import Embedder


def _minilm(settings: EmbedSettings) -> Embedder:
    from ragworks.engines.embed.minilm import MiniLMEmbedder  # torch and transformers only when chosen

    return MiniLMEmbedder(batch_size=settings.batch_size, threads=settings.threads)


PROVIDERS: dict[str, Callable[[EmbedSettings], Embedder]] = {
    "minilm": _minilm,
}


def build_embedder(settings: EmbedSettings) -> Embedder:
    """The embedder the settings name (cheap: the model loads in ``start()``)."""
    return PROVIDERS[settings.provider](settings)
