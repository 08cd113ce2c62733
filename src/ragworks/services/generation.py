"""What the generating services (answer, summarize) share: who generated, and sentence tools that need
the engines (Kiwi for Korean sentences, the analyzer's terms, the embedder's similarities)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, Field

from ragworks.services.extractive import Sentence, split_sentences

if TYPE_CHECKING:
    from ragworks.engines.embed.base import Embedder
    from ragworks.engines.llm.base import LLM
    from ragworks.ingest.analysis import Analyzer

EXTRACTIVE_NOTE = (
    "No language model is configured (llm.provider = 'extractive'): this text is made of sentences "
    "quoted from the sources."
)


class Generator(BaseModel):
    """The model that wrote a text; provider ``extractive`` means sentences quoted from the sources."""

    provider: str = Field(..., description="LLM provider: 'llamacpp', 'openai' or 'extractive'.")
    model: str = Field(..., description="Model name (or 'extractive').")


def generator_of(llm: LLM) -> Generator:
    """Who generates with ``llm``."""
    return Generator(provider=llm.provider, model=llm.model)


def sentences_of(text: str, analyzer: Analyzer) -> list[Sentence]:
    """Sentences of ``text``; Korean through the analyzer's Kiwi when it is loaded (blocking)."""
    # Kiwi finds Korean sentence ends that carry no punctuation; the analyzer holds the loaded model.
    kiwi: Any = analyzer._kiwi if analyzer.started else None
    return split_sentences(text, kiwi)


def understood(text: str, analyzer: Analyzer, embedder: Embedder) -> bool:
    """Whether the embedder understands the language of ``text`` (its similarities mean something)."""
    return analyzer.language_of(text) in embedder.languages


def similarities(embedder: Embedder, query: str, texts: Sequence[str]) -> list[float]:
    """Embedding cosine of ``query`` with each text (vectors are normalised; blocking)."""
    if not texts:
        return []
    vectors = embedder.embed([query, *texts])
    return [float(x) for x in vectors[1:] @ vectors[0]]


def embedding_centrality(embedder: Embedder, texts: Sequence[str]) -> list[float]:
    """Each text's mean cosine with all the texts (blocking)."""
    if not texts:
        return []
    vectors = embedder.embed(list(texts))
    centroid = vectors.mean(axis=0)
    return [float(x) for x in vectors @ centroid.astype(np.float32)]
