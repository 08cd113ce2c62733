"""Snippets with matched query terms marked, for retrieve results."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from ragworks.ingest.analysis import Analyzer

_WORD = re.compile(r"[\w][\w'-]*", re.UNICODE)
_PREFIX = re.compile(r"\w[\w'-]*")  # what can begin a word: a word character, then word chars or joiners
_WORD_TAIL = re.compile(r"[\w'-]*")
_JOINERS = "'-"
_JOINER_RUN = re.compile(r"['-]+")
SNIPPET_CHARS = 160
WORD_CACHE = 100_000  # analysed words kept by a Highlighter (about 15 MB at most)

Span = tuple[int, int]


def highlight(text: str, query_tokens: set[str], analyzer: Analyzer, snippets: int = 2) -> list[str]:
    """Up to ``snippets`` windows of ``text`` around words whose analysed form matches a query token."""
    return Highlighter(analyzer, cache_size=0).highlight(text, query_tokens, snippets)


class Highlighter:
    """Highlights texts; keeps the analysis of words it has seen (bounded), since the same words recur.

    Safe to share between threads: the cache is a plain dict whose single operations are atomic.
    """

    def __init__(self, analyzer: Analyzer, cache_size: int = WORD_CACHE) -> None:
        self._analyzer = analyzer
        self._cache_size = cache_size
        self._terms: dict[str, frozenset[str]] = {}

    def highlight(self, text: str, query_tokens: set[str], snippets: int = 2) -> list[str]:
        """Up to ``snippets`` windows of ``text`` around words whose analysed form matches a query token."""
        return self.highlight_many([text], query_tokens, snippets)[0]

    def highlight_many(
        self, texts: Sequence[str], query_tokens: set[str], snippets: int = 2
    ) -> list[list[str]]:
        """``highlight`` for each of ``texts``; the new words of all of them are analysed in one call."""
        if not query_tokens:
            return [[] for _ in texts]
        prefixes = _prefixes(query_tokens)
        candidates = [_candidate_words(text, prefixes) for text in texts]
        terms = self._analyse(
            {text[s:e] for text, spans in zip(texts, candidates, strict=True) for s, e in spans}
        )
        result: list[list[str]] = []
        for text, spans in zip(texts, candidates, strict=True):
            matches = [(s, e) for s, e in spans if not query_tokens.isdisjoint(terms[text[s:e]])]
            result.append(_snippets(text, matches, snippets))
        return result

    def _analyse(self, words: set[str]) -> dict[str, frozenset[str]]:
        cache = self._terms
        known = {w: t for w in words if (t := cache.get(w)) is not None}
        new = sorted(words.difference(known))
        if new:
            analysed = {w: frozenset(t) for w, t in zip(new, self._analyzer.tokens_many(new), strict=True)}
            known.update(analysed)
            if 0 < len(analysed) <= self._cache_size:
                if len(cache) + len(analysed) > self._cache_size:
                    cache.clear()  # crude but bounded; the working set refills it quickly
                cache.update(analysed)
        return known


def _prefixes(query_tokens: set[str]) -> tuple[str, ...]:
    """What a word (or a part of a compound) must begin with to be worth analysing.

    Analysed terms (stems, morphemes) begin with their word's first characters in nearly every case:
    two for any term, three for an ASCII term of four or more characters (English stems only drop or
    change endings; a three-letter stem may have gained an "e": using -> use). The longer prefix skips
    most of the places where a two-letter one occurs inside other words.
    """
    return tuple(sorted({t[:3] if len(t) >= 4 and t.isascii() else t[:2] for t in query_tokens}))


def _candidate_words(text: str, prefixes: tuple[str, ...]) -> list[Span]:
    """Spans of the words of ``text`` (``_WORD`` matches) of which the lower-cased form, or a part
    between joiners (``x-ray``: ``x``, ``ray``), starts with a prefix."""
    lowered = text.lower()
    if len(lowered) != len(text):  # a character lower-cases to several (only "İ"): the slow way
        return [
            m.span()
            for m in _WORD.finditer(text)
            if any(part.startswith(prefixes) for part in _JOINER_RUN.split(m.group(0).lower()))
        ]
    # Lower-casing maps every other character to one character of the same kind (word or not), so the
    # words of ``lowered`` are those of ``text`` at the same positions. ``str.find`` (in C) visits only
    # the places where a prefix occurs, instead of a Python step (or a regex attempt) at every word.
    starts: set[int] = set()
    for prefix in prefixes:
        if not _PREFIX.fullmatch(prefix):  # a prefix must begin with a word character to begin a word
            continue
        at = lowered.find(prefix)
        while at >= 0:
            before = lowered[at - 1] if at else " "
            if before in _JOINERS:  # a part of a compound, or a word after a stray joiner
                starts.add(_word_start(lowered, at))
            elif not (before.isalnum() or before == "_"):  # a word character before it: inside a word
                starts.add(at)
            at = lowered.find(prefix, at + 1)
    word_tail = _WORD_TAIL.match  # matches at every position (it may match nothing), so none is dropped
    return [(at, tail.end()) for at in sorted(starts) if (tail := word_tail(lowered, at))]


def _word_start(text: str, at: int) -> int:
    """Where the ``_WORD`` match that contains ``at``, a word character of ``text``, begins.

    Words are runs of word characters and joiners (' and -) that begin at the run's first word
    character. (``\\w`` is str.isalnum() or "_", as the re module defines it.)
    """
    start = at
    before = at - 1
    while before >= 0 and (text[before].isalnum() or text[before] == "_" or text[before] in _JOINERS):
        if text[before] not in _JOINERS:
            start = before
        before -= 1
    return start


def _snippets(text: str, matches: list[Span], snippets: int) -> list[str]:
    result: list[str] = []
    covered_until = -1
    for start_word, _ in matches:
        if start_word < covered_until or len(result) >= snippets:
            continue
        start = max(0, start_word - SNIPPET_CHARS // 3)
        end = min(len(text), start + SNIPPET_CHARS)
        window = [m for m in matches if start <= m[0] and m[1] <= end]
        result.append(_mark(text, start, end, window))
        covered_until = end
    return result


def _mark(text: str, start: int, end: int, matches: list[Span]) -> str:
    parts: list[str] = ["…" if start > 0 else ""]
    cursor = start
    for m_start, m_end in matches:
        parts.append(html.escape(text[cursor:m_start]))
        parts.append(f"<em>{html.escape(text[m_start:m_end])}</em>")
        cursor = m_end
    parts.append(html.escape(text[cursor:end]))
    parts.append("…" if end < len(text) else "")
    return "".join(parts).replace("\n", " ")
