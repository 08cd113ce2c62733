"""Search-query rewriting: a normalised rewrite without a model, and checks on a model's phrasings.

The normalised rewrite keeps the words that carry meaning in their written form: English drops stop
words, question words and request words ("please explain"); Korean drops particles ("지사의" →
"지사"), question words ("무엇") and request predicates ("알려 주세요"), using the analyzer's content
morphemes to tell them apart.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ragworks.ingest.analysis import ENGLISH_STOP_WORDS, Analyzer

# Words of asking rather than of the subject.
ENGLISH_FILLER = frozenset(
    [
        "please",
        "tell",
        "explain",
        "describe",
        "know",
        "want",
        "wonder",
        "can",
        "could",
        "may",
        "might",
        "must",
        "shall",
        "will",
        "find",
        "show",
        "give",
        "list",
        "information",
        "info",
        "anyone",
        "someone",
    ]
)
# Content morphemes of asking: 설명(해 주세요), 알리(알려 주세요), (에) 대하, 관하, 궁금(하다), ...
KOREAN_FILLER = frozenset(
    [
        "설명",
        "알리",
        "대하",
        "관하",
        "궁금",
        "말하",
        "가르치",
        "알",
        "싶",
        "찾",
        "보이",
        "소개",
        "질문",
        "문의",
        "주",
        "드리",
    ]
)
# Particles (and particle runs) that may end a Korean word after its content.
KOREAN_PARTICLES = frozenset(
    [
        "이",
        "가",
        "은",
        "는",
        "을",
        "를",
        "의",
        "에",
        "에서",
        "에게",
        "께",
        "한테",
        "로",
        "으로",
        "와",
        "과",
        "도",
        "만",
        "까지",
        "부터",
        "보다",
        "처럼",
        "이나",
        "나",
        "랑",
        "이랑",
        "에는",
        "에서는",
        "으로는",
        "로는",
        "에도",
        "에서도",
        "와는",
        "과는",
        "까지는",
        "부터는",
        "이라도",
        "라도",
        "이란",
        "란",
        "이라는",
        "라는",
        "께서",
        "에의",
        "으로의",
        "로의",
        "에서의",
    ]
)
# Endings of a question or request: such a predicate keeps only its content ("증가했나요" → "증가").
_ASKING_ENDING = re.compile(r"(요|까|니|냐|죠|나|지)[?？!.]*$")
_HANGUL = re.compile("[\uac00-\ud7a3]")
_EDGE_PUNCT = re.compile(r"^[^\w]+|[^\w]+$")
_QUOTES_AND_BULLETS = re.compile(r"^\s*(?:[-*•]|\d+[.)])?\s*[\"'“”‘’]?|[\"'“”‘’]?\s*$")

MAX_VARIANT_CHARS = 200


def normalise(query: str, analyzer: Analyzer) -> str:
    """The query without question words, particles, stop words and request words (blocking: Kiwi)."""
    words = [w for w in (_strip_punctuation(raw) for raw in query.split()) if w]
    terms = analyzer.tokens_many(words)
    kept = [
        part for word, word_terms in zip(words, terms, strict=True) if (part := _content(word, word_terms))
    ]
    return " ".join(kept)


def _strip_punctuation(word: str) -> str:
    """Without surrounding punctuation, but with the final dot of an abbreviation ("U.S.")."""
    stripped = _EDGE_PUNCT.sub("", word)
    if word.endswith(".") and stripped and "." in stripped and word.startswith(stripped):
        return stripped + "."
    return stripped


def _content(word: str, terms: list[str]) -> str:
    if not _HANGUL.search(word):
        lowered = word.lower()
        return "" if lowered in ENGLISH_STOP_WORDS or lowered in ENGLISH_FILLER or not terms else word
    if not terms or all(t in KOREAN_FILLER for t in terms):
        return ""
    covered = _covered(word, terms)
    rest = word[len(covered) :]
    if not covered:
        return ""  # an irregular form the analyzer rewrote ("알려" → "알리"): a request word
    if not rest or rest in KOREAN_PARTICLES or _ASKING_ENDING.search(rest):
        return covered
    return word  # a predicate or modifier ("낮추는", "감소한"): its ending is part of the meaning


def _covered(word: str, terms: list[str]) -> str:
    """The longest start of ``word`` spelled by its terms in order (case-insensitive for Latin)."""
    position = 0
    lowered = word.lower()
    for term in terms:
        if not lowered.startswith(term, position):
            break
        position += len(term)
    return word[:position]


def unique_terms(terms: Sequence[str]) -> list[str]:
    """Terms without repeats, in order."""
    return list(dict.fromkeys(terms))


# Few-shot examples for the model, by language: a query, then other ways of searching for it.
EXAMPLES = {
    "en": [
        (
            "how do vaccines train the immune system?",
            ["vaccine immune response", "how vaccination teaches immunity", "immune memory after vaccines"],
        ),
        (
            "what causes high blood pressure",
            ["causes of hypertension", "high blood pressure risk factors", "why blood pressure rises"],
        ),
    ],
    "ko": [
        ("지사의 업무 범위는 무엇인가요?", ["지사 업무 범위", "지사가 담당하는 업무", "지사 업무 내용"]),
        ("혈압을 낮추는 방법", ["고혈압 관리 방법", "혈압 낮추는 생활 습관", "혈압 조절 방법"]),
    ],
}
SEPARATOR = " | "


def variants_prompt(query: str, language: str, count: int) -> str:
    """A few-shot completion prompt that asks for ``count`` other phrasings, one line."""
    shots = EXAMPLES.get(language, EXAMPLES["en"])
    lines = ["Other ways to search for the same thing, in the same language as the query.", ""]
    for example, others in shots:
        lines += [f"Query: {example}", f"Other ways: {SEPARATOR.join(others[:count])}", ""]
    lines += [f"Query: {query.strip()}", "Other ways:"]
    return "\n".join(lines)


def parse_variants(text: str) -> list[str]:
    """The phrasings of the model's line, stripped of bullets, numbering and quotes."""
    line = text.strip().split("\n", 1)[0]
    return [v for part in line.split("|") if (v := _QUOTES_AND_BULLETS.sub("", part).strip())]


def sane(variant: str, query: str, language: str, query_terms: set[str], analyzer: Analyzer) -> bool:
    """A usable phrasing: not too long, in the query's language, and about the same things: it keeps
    more than half of the query's analysed terms (a fragment such as "vitamin D" of "vitamin D and
    bone density" would pull the search off the question; blocking: Kiwi)."""
    if len(variant) > min(MAX_VARIANT_CHARS, 2 * len(query) + 40):
        return False
    if analyzer.language_of(variant) != language:
        return False
    shared = query_terms & set(analyzer.tokens(variant))
    return 2 * len(shared) > len(query_terms)
