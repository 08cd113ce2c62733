"""Answers and summaries without a language model: sentences chosen from the sources themselves.

Used when the LLM provider is ``extractive`` (no model), and for the snippets of citations. Pure
functions over text and term lists; the services supply the terms (``Analyzer.tokens``) and, where
the embedder understands the language, embedding similarities.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

# A sentence ends at . ? ! (and their CJK forms) plus closing quotes before whitespace; at a blank or
# line break; or, in Korean written without a space after the stop ("했다.그리고"), between Hangul.
_SENTENCE_END = re.compile(
    r"[.?!…。？！]+[\"'”’)\]]*(?=\s|$)|\n|(?<=[\uac00-\ud7a3][.?!])(?=[\uac00-\ud7a3])"
)
_HANGUL = re.compile("[\uac00-\ud7a3]")
# Words whose trailing period does not end a sentence.
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "vs",
        "fig",
        "figs",
        "eq",
        "eqs",
        "al",
        "approx",
        "ca",
        "cf",
        "no",
        "nos",
        "vol",
        "pp",
        "p",
        "ref",
        "refs",
        "inc",
        "ltd",
        "co",
        "corp",
        "dept",
        "univ",
        "e.g",
        "i.e",
    ]
)
# Sentences shorter than this many words are headings, labels or fragments: poor answers and summaries.
MIN_SENTENCE_WORDS = 4


@dataclass(frozen=True, slots=True)
class Sentence:
    """A sentence of a text, with its character span in that text."""

    text: str
    start: int
    end: int

    @property
    def words(self) -> int:
        """Whitespace-separated words (eojeol in Korean)."""
        return len(self.text.split())


def split_sentences(text: str, kiwi: Any = None) -> list[Sentence]:
    """Sentences of ``text`` in order. Korean text goes through ``kiwi.split_into_sents`` when a loaded
    Kiwi is given (it finds sentence ends that have no punctuation); otherwise punctuation rules."""
    if kiwi is not None and _HANGUL.search(text):
        return [
            Sentence(s.text.strip(), s.start, s.end) for s in kiwi.split_into_sents(text) if s.text.strip()
        ]
    cuts = [0]
    for m in _SENTENCE_END.finditer(text):
        if m.group().startswith(".") and _is_abbreviation(text, m.start()):
            continue
        cuts.append(m.end())
    cuts.append(len(text))
    out: list[Sentence] = []
    for start, end in zip(cuts, cuts[1:], strict=False):
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start < end:
            out.append(Sentence(text[start:end], start, end))
    return out


def _is_abbreviation(text: str, dot: int) -> bool:
    """Whether the period at ``dot`` closes an abbreviation or an initial rather than a sentence."""
    word_start = dot
    while word_start > 0 and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start:dot].lower().lstrip("(\"'")
    if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha() and word.isascii()):
        return True
    nxt = dot + 1
    while nxt < len(text) and (text[nxt].isspace() or text[nxt] in "\"'”’)]."):
        nxt += 1
    # "et al. reported": a lower-case Latin word next means the sentence goes on.
    return nxt < len(text) and text[nxt].isascii() and text[nxt].islower()


def term_coverage(query_terms: Iterable[str], terms: Iterable[str]) -> float:
    """Share of the query's distinct terms that occur in ``terms`` (0 when the query has none)."""
    wanted = set(query_terms)
    if not wanted:
        return 0.0
    return len(wanted & set(terms)) / len(wanted)


def score_sentences(
    query_terms: Sequence[str],
    sentence_terms: Sequence[Sequence[str]],
    similarities: Sequence[float] | None = None,
) -> list[float]:
    """How well each sentence matches the query, in [0, 1].

    The lexical part is the idf-weighted share of the query's terms the sentence contains (idf over
    the candidate sentences, so terms found everywhere count little). With ``similarities`` (embedding
    cosines of the query and each sentence) the score is the mean of both parts.
    """
    wanted = set(query_terms)
    n = len(sentence_terms)
    sets = [set(t) for t in sentence_terms]
    frequency = Counter(term for s in sets for term in s & wanted)
    idf = {term: math.log(1 + (n + 1) / (frequency[term] + 1)) for term in wanted}
    total = sum(idf.values())
    scores = [sum(idf[t] for t in s & wanted) / total if total else 0.0 for s in sets]
    if similarities is not None:
        scores = [(lexical + max(0.0, sim)) / 2 for lexical, sim in zip(scores, similarities, strict=True)]
    return scores


@dataclass(frozen=True, slots=True)
class Candidate:
    """A sentence of numbered source ``n`` with its match score."""

    n: int
    sentence: Sentence
    score: float


def pick_answer(
    candidates: Sequence[Candidate], max_sentences: int = 3, max_words: int = 90
) -> list[Candidate]:
    """The best-matching sentences (best first) within a word budget; duplicates and fragments skipped,
    and always at least the best one when any sentence matches at all."""
    ranked = sorted(
        (c for c in candidates if c.score > 0),
        key=lambda c: (c.score, c.sentence.words >= MIN_SENTENCE_WORDS),
        reverse=True,
    )
    chosen: list[Candidate] = []
    seen: set[str] = set()
    words = 0
    for candidate in ranked:
        key = " ".join(candidate.sentence.text.lower().split())
        if key in seen or candidate.sentence.words < MIN_SENTENCE_WORDS:
            continue
        if chosen and words + candidate.sentence.words > max_words:
            continue
        chosen.append(candidate)
        seen.add(key)
        words += candidate.sentence.words
        if len(chosen) >= max_sentences:
            break
    if not chosen and ranked:
        chosen = ranked[:1]
    return chosen


def answer_text(chosen: Sequence[Candidate]) -> str:
    """The chosen sentences, each followed by its source marker ``[n]``."""
    return " ".join(f"{c.sentence.text} [{c.n}]" for c in chosen)


def tfidf_vectors(sentence_terms: Sequence[Sequence[str]]) -> list[dict[str, float]]:
    """L2-normalised TF-IDF vectors of the sentences, as sparse term -> weight maps."""
    n = len(sentence_terms)
    frequency = Counter(term for terms in sentence_terms for term in set(terms))
    vectors: list[dict[str, float]] = []
    for terms in sentence_terms:
        counts = Counter(terms)
        weights = {
            t: (1 + math.log(c)) * math.log((1 + n) / (1 + frequency[t])) + 1e-9 for t, c in counts.items()
        }
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        vectors.append({t: w / norm for t, w in weights.items()})
    return vectors


def cosine(a: dict[str, float], b: dict[str, float]) -> float:
    """Cosine of two normalised sparse vectors."""
    if len(b) < len(a):
        a, b = b, a
    return sum(w * b.get(t, 0.0) for t, w in a.items())


def centrality(vectors: Sequence[dict[str, float]]) -> list[float]:
    """Each sentence's mean cosine with all sentences: its dot product with the centroid.

    (Continuous degree centrality, computed in time linear in the text rather than quadratic.)
    """
    if not vectors:
        return []
    centroid: Counter[str] = Counter()
    for vector in vectors:
        centroid.update(vector)
    size = len(vectors)
    return [sum(w * centroid[t] for t, w in v.items()) / size for v in vectors]


def pick_summary(
    sentences: Sequence[Sentence],
    scores: Sequence[float],
    vectors: Sequence[dict[str, float]],
    target_words: int,
    max_overlap: float = 0.6,
) -> list[int]:
    """Indices of the most central sentences that fit ``target_words``, in document order.

    Fragments are skipped, and so is a sentence too similar (TF-IDF cosine above ``max_overlap``) to
    one already chosen; the most central one is always chosen.
    """
    order = sorted(range(len(sentences)), key=lambda i: scores[i], reverse=True)
    full = [i for i in order if sentences[i].words >= MIN_SENTENCE_WORDS] or order
    chosen: list[int] = []
    words = 0
    for i in full:
        size = sentences[i].words
        if chosen and words + size > target_words:
            continue
        if any(cosine(vectors[i], vectors[j]) > max_overlap for j in chosen):
            continue
        chosen.append(i)
        words += size
        if words >= target_words * 0.9:
            break
    return sorted(chosen)


def snippet(text: str, limit: int = 300) -> str:
    """``text`` cut at a word boundary near ``limit`` characters, with an ellipsis when cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit].rstrip(" ,;:") + "…"


__all__ = [
    "MIN_SENTENCE_WORDS",
    "Candidate",
    "Sentence",
    "answer_text",
    "centrality",
    "cosine",
    "pick_answer",
    "pick_summary",
    "score_sentences",
    "snippet",
    "split_sentences",
    "term_coverage",
    "tfidf_vectors",
]
