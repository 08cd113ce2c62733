"""Sentence continuations for auto-complete: cut at the sentence end, clean up, find them in sources."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# A sentence ends at . ? ! (and their CJK forms, and …) followed by a space or the end, or at a newline.
# "3.5" and "e.g.x" do not end one; the punctuation stays in the text.
_SENTENCE_END = re.compile(r"[.?!。？！…](?=\s|$)|\n")
_WORDS = re.compile(r"\S+")
_LINE_WRAP = re.compile(r"(?<!\n)\n(?!\n)")
# The part of a prefix still being written: what follows its last finished sentence.
_LAST_SENTENCE = re.compile(r"(?:^|[.?!。？！…\n])\s*([^.?!。？！…\n]*)$")

MIN_MATCH_CHARS = 4  # a literal match shorter than this says nothing about what comes next
ECHO_MIN_CHARS = 8  # shorter prefixes may begin their own continuation by chance ("a" → " a dog")


def sentence_end(text: str, *, final: bool) -> int | None:
    """Where the first sentence of ``text`` ends (after its terminator, before a newline); None while
    it cannot be told yet.

    With ``final`` (no more text will come) a trailing terminator counts, and a text without one ends
    at its end.
    """
    for match in _SENTENCE_END.finditer(text):
        if match.group() == "\n":
            return match.start()
        if match.end() < len(text) or final:
            return match.end()
    return len(text) if final else None


def clean(prefix: str, continuation: str) -> str:
    """What to append to ``prefix``: no echo of the prefix, at most one separating space, no trailing
    space."""
    text = continuation
    typed = prefix.strip()
    if len(typed) >= ECHO_MIN_CHARS and text.lstrip().startswith(typed):  # the model repeated it
        text = text.lstrip()[len(typed) :]
    text = text.rstrip()
    if not text.strip():
        return ""
    if not prefix or prefix[-1].isspace():
        return text.lstrip()
    return " " + text.lstrip() if text[:1].isspace() else text


def unique(texts: Iterable[str]) -> list[str]:
    """Texts without repeats (compared case- and space-insensitively), in order."""
    seen: set[str] = set()
    out: list[str] = []
    for text in texts:
        key = " ".join(text.casefold().split())
        if key and key not in seen:
            seen.add(key)
            out.append(text)
    return out


def last_sentence(prefix: str) -> str:
    """The sentence the user is still typing (the whole prefix if it has no finished sentence)."""
    match = _LAST_SENTENCE.search(prefix.rstrip())
    return match.group(1) if match else prefix.strip()


@dataclass(frozen=True, slots=True)
class SourceMatch:
    """A literal continuation of the prefix found in a source text."""

    text: str  # what follows the prefix there, to the sentence end
    matched_words: int  # how many of the prefix's last words matched


def continue_from(prefix: str, source: str) -> SourceMatch | None:
    """The longest tail of the prefix's last sentence found in ``source``, continued to the sentence end.

    The tail may end inside a word ("powerhouse of th" continues with "e cell."); matching ignores case
    and treats any run of whitespace as one space.
    """
    source = _LINE_WRAP.sub(" ", source)  # a single newline in a source is a wrapped line, not an end
    words = _WORDS.findall(last_sentence(prefix))
    ends_with_space = prefix[-1:].isspace()
    for size in range(len(words), 0, -1):
        tail = words[-size:]
        if len(" ".join(tail)) < MIN_MATCH_CHARS:
            break
        pattern = r"\s+".join(re.escape(w) for w in tail) + (r"\s+" if ends_with_space else "")
        # a match starts at a word start, so "cell" does not match inside "excellent"
        for match in re.finditer(r"(?<!\w)" + pattern, source, flags=re.IGNORECASE):
            rest = source[match.end() :]
            text = clean(prefix, rest[: sentence_end(rest, final=True)])
            if text:
                lead = " " if text.startswith(" ") else ""
                return SourceMatch(lead + " ".join(text.split()), size)
    return None
