"""Pseudo-queries drawn from a collection's own chunks, with the source document as the known answer.

A query is one sentence of a chunk (inverse cloze): the chunk is matched as if that sentence were not in
it, so BM25 cannot win by the exact overlap a verbatim sentence would give it. The keyword leg scores the
source chunk on the query terms that also occur elsewhere in it (its stored statistics, restricted to
those terms), the vector leg by the cosine with an embedding of the chunk without the sentence. Every
other chunk keeps the scores the index gives it, so the candidates are ranked as a real query ranks them.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ragworks.engines.embed.base import Embedder
from ragworks.engines.index.base import Hit, SearchIndex
from ragworks.engines.store.base import ChunkStore
from ragworks.ingest.analysis import Analyzer

_SENTENCE_END = re.compile(r"(?<=[.!?。？！])\s+|\n+")
MIN_WORDS, MAX_WORDS = 5, 40  # a sentence shorter says too little to be a query, longer is a passage


@dataclass(frozen=True, slots=True)
class PseudoQuery:
    """One pseudo-query: its text, the document it came from, and both legs' hits for it."""

    text: str
    document_id: str
    keyword: list[Hit]
    vector: list[Hit]
    documents: dict[int, str]  # chunk key -> document id, for every key of either leg


@dataclass(frozen=True, slots=True)
class _Draft:
    key: int
    document_id: str
    query: str
    held_out: str  # the chunk as indexed (title line + text) without the query sentence


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` (at ., !, ?, their CJK forms, and line breaks)."""
    return [part.strip() for part in _SENTENCE_END.split(text) if part.strip()]


def draw_pseudo_queries(
    collection: str,
    count: int,
    *,
    chunk_store: ChunkStore,
    index: SearchIndex,
    analyzer: Analyzer,
    embedder: Embedder,
    depth: int,
) -> list[PseudoQuery]:
    """Up to ``count`` pseudo-queries in the languages the embedder reads, drawn reproducibly (the same
    chunks give the same queries), each with the top ``depth`` hits of both legs."""
    keys = sorted(chunk_store.served_keys(collection))
    rng = random.Random(f"{collection}:{len(keys)}")
    rng.shuffle(keys)
    drafts: list[_Draft] = []
    for start in range(0, len(keys), 4 * count):
        found = chunk_store.lookup(keys[start : start + 4 * count])
        for key in keys[start : start + 4 * count]:
            if key in found and len(drafts) < count:
                chunk, document = found[key]
                draft = _draft(key, document.id, document.title, chunk.text, rng)
                if draft is not None and analyzer.language_of(draft.query) in embedder.languages:
                    drafts.append(draft)
        if len(drafts) >= count:
            break
    if not drafts:
        return []
    queries = embedder.embed([d.query for d in drafts])
    rests = embedder.embed([d.held_out for d in drafts])
    return [
        _search(collection, draft, query, float(np.dot(query, rest)), index, analyzer, chunk_store, depth)
        for draft, query, rest in zip(drafts, queries, rests, strict=True)
    ]


def _draft(key: int, document_id: str, title: str | None, text: str, rng: random.Random) -> _Draft | None:
    """A sentence of the chunk as the query and the rest of the chunk, or None when it has no sentence
    fit to be a query or nothing would be left."""
    sentences = split_sentences(text)
    fit = [i for i, s in enumerate(sentences) if MIN_WORDS <= len(s.split()) <= MAX_WORDS]
    if len(sentences) < 2 or not fit:
        return None
    chosen = rng.choice(fit)
    rest = " ".join(s for i, s in enumerate(sentences) if i != chosen)
    prefix = f"{title}\n" if title else ""
    return _Draft(key, document_id, sentences[chosen], prefix + rest)


def _search(
    collection: str,
    draft: _Draft,
    query: np.ndarray,
    held_out_similarity: float,
    index: SearchIndex,
    analyzer: Analyzer,
    chunk_store: ChunkStore,
    depth: int,
) -> PseudoQuery:
    tokens = analyzer.tokens(draft.query)
    keyword = index.keyword_search(collection, tokens, depth, None) if tokens else []
    vector = index.vector_search(collection, query, depth, None)
    remaining = set(analyzer.tokens(draft.held_out))
    shared = [t for t in tokens if t in remaining]
    own = index.keyword_search(collection, shared, 1, {draft.key}) if shared else []
    keyword = _rescore(keyword, draft.key, own[0].score if own else None)
    vector = _rescore(vector, draft.key, held_out_similarity)
    keys = {h.key for h in keyword} | {h.key for h in vector}
    found = chunk_store.lookup(sorted(keys))
    documents = {key: chunk.document_id for key, (chunk, _) in found.items()}
    return PseudoQuery(
        text=draft.query,
        document_id=draft.document_id,
        keyword=[h for h in keyword if h.key in documents],
        vector=[h for h in vector if h.key in documents],
        documents=documents,
    )


def _rescore(hits: Sequence[Hit], key: int, score: float | None) -> list[Hit]:
    """``hits`` with ``key`` scored ``score`` instead (left out when None or below the last hit of a
    full list, where the index would not have returned it), best first."""
    others = [h for h in hits if h.key != key]
    if score is None or (others and len(others) == len(hits) and score < others[-1].score):
        return others
    return sorted([*others, Hit(key, score)], key=lambda h: h.score, reverse=True)
