"""Snippets with matched query terms marked, for retrieve results."""

from __future__ import annotations

import html
import re

from ragworks.ingest.analysis import Analyzer

_WORD = re.compile(r"[\w][\w'-]*", re.UNICODE)
SNIPPET_CHARS = 160


def highlight(text: str, query_tokens: set[str], analyzer: Analyzer, snippets: int = 2) -> list[str]:
    """Up to ``snippets`` windows of ``text`` around words whose analysed form matches a query token."""
    if not query_tokens:
        return []
    # Analysed terms (stems, morphemes) start with the word's first characters in nearly every case,
    # so only words sharing a two-character prefix with a query term are worth analysing.
    prefixes = tuple({t[:2] for t in query_tokens})
    words = [w for w in _WORD.finditer(text) if w.group(0).lower().startswith(prefixes)]
    unique = sorted({w.group(0) for w in words})
    analysed = dict(zip(unique, analyzer.tokens_many(unique), strict=True))
    matches = [w for w in words if query_tokens.intersection(analysed[w.group(0)])]
    result: list[str] = []
    covered_until = -1
    for match in matches:
        if match.start() < covered_until or len(result) >= snippets:
            continue
        start = max(0, match.start() - SNIPPET_CHARS // 3)
        end = min(len(text), start + SNIPPET_CHARS)
        window = [m for m in matches if start <= m.start() and m.end() <= end]
        result.append(_mark(text, start, end, window))
        covered_until = end
    return result


def _mark(text: str, start: int, end: int, matches: list[re.Match[str]]) -> str:
    parts: list[str] = ["…" if start > 0 else ""]
    cursor = start
    for m in matches:
        parts.append(html.escape(text[cursor : m.start()]))
        parts.append(f"<em>{html.escape(m.group(0))}</em>")
        cursor = m.end()
    parts.append(html.escape(text[cursor:end]))
    parts.append("…" if end < len(text) else "")
    return "".join(parts).replace("\n", " ")
