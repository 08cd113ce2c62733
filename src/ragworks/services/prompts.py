"""Completion prompts within a token budget, and the citation markers in generated text.

Prompts are plain completions ("...\\nQuestion: ...\\nAnswer:") with stop strings: the default model is a
base model without a chat template, and completion prompts work on every OpenAI-compatible server.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ragworks.services.extractive import split_sentences

CountTokens = Callable[[str], int]

ANSWER_INSTRUCTIONS = (
    "Answer the question using only the numbered sources below. After each fact, cite its source "
    "number in brackets, like [1]. If the sources do not answer the question, say so."
)
# "\n[" ends an answer where a small model goes on to invent a further numbered source.
ANSWER_STOP = ("\nQuestion:", "\n\n\n", "\nSources:", "\nSource:", "\n[")
SUMMARY_STOP = ("\nText:", "\n\n\n", "\nSummary:")
# A source cut to fewer tokens than this is left out: a few words only distract the model.
MIN_SOURCE_TOKENS = 24
_ELLIPSIS = " …"

# [1], [1, 2], [1][2], [1-3], [1; 4], [Source 2]
_MARKER = re.compile(r"\[\s*(?:sources?\s*)?(\d+(?:\s*(?:[,;]|[-–])\s*(?:sources?\s*)?\d+)*)\s*\]", re.I)
_NUMBER = re.compile(r"\d+")
# A finished sentence ends at a stop (closing quotes and markers may follow), or is markers alone.
_LIST_NUMBER = re.compile(r"\d{1,2}[.)]")
_FINISHED = re.compile(r"(?:[.?!…。？！][\"'”’)]*|^)(?:\s*\[[\d,\s]+\])*\s*$")


@dataclass(frozen=True, slots=True)
class PromptSource:
    """A numbered source as the prompt shows it."""

    n: int
    text: str
    title: str | None = None


@dataclass(frozen=True, slots=True)
class PackedPrompt:
    """A prompt and the numbers of the sources that made it in (the last one possibly truncated)."""

    prompt: str
    sources: tuple[int, ...]
    truncated: bool


def truncate_to_tokens(text: str, limit: int, count_tokens: CountTokens) -> str:
    """The longest word-boundary prefix of ``text`` (plus an ellipsis) of at most ``limit`` tokens."""
    if count_tokens(text) <= limit:
        return text
    ends = [m.end() for m in re.finditer(r"\S+", text)]
    low, high = 0, len(ends)  # the answer is the largest number of words that fits
    while low < high:
        mid = (low + high + 1) // 2
        if count_tokens(text[: ends[mid - 1]] + _ELLIPSIS) <= limit:
            low = mid
        else:
            high = mid - 1
    return text[: ends[low - 1]] + _ELLIPSIS if low else ""


def source_block(source: PromptSource) -> str:
    """How one source appears in the prompt."""
    body = " ".join(source.text.split())
    title = " ".join((source.title or "").split())
    if title and not body.startswith(title):
        body = f"{title}. {body}"
    return f"[{source.n}] {body}\n"


def answer_prompt(
    question: str, sources: Sequence[PromptSource], budget: int, count_tokens: CountTokens
) -> PackedPrompt:
    """The answer prompt with as many sources as fit ``budget`` tokens, in order; the last one that
    does not fit whole is truncated (or left out when too little of it would remain).

    Raises:
        ValueError: the instructions and the question alone exceed the budget.
    """
    head = f"{ANSWER_INSTRUCTIONS}\n\nSources:\n"
    tail = f"\nQuestion: {' '.join(question.split())}\nAnswer:"
    left = budget - count_tokens(head + tail)
    if left < MIN_SOURCE_TOKENS:
        raise ValueError("the question leaves no room for sources in the model's context window")
    blocks: list[str] = []
    used: list[int] = []
    truncated = False
    for source in sources:
        block = source_block(source)
        size = count_tokens(block)
        if size > left:
            if left >= MIN_SOURCE_TOKENS:
                cut = truncate_to_tokens(block.rstrip("\n"), left - 1, count_tokens)
                if cut and count_tokens(cut) >= MIN_SOURCE_TOKENS:
                    blocks.append(cut + "\n")
                    used.append(source.n)
                    truncated = True
            break
        blocks.append(block)
        used.append(source.n)
        left -= size
    return PackedPrompt(head + "".join(blocks) + tail, tuple(used), truncated)


def _numbers(marker_body: str) -> list[int]:
    """Numbers of one marker's body, ranges expanded ("1-3" gives 1, 2, 3; at most 20)."""
    out: list[int] = []
    for part in re.split(r"[,;]", marker_body):
        bounds = [int(x) for x in _NUMBER.findall(part)]
        if len(bounds) == 2 and 0 < bounds[1] - bounds[0] < 20:
            out.extend(range(bounds[0], bounds[1] + 1))
        else:
            out.extend(bounds)
    return out


def cited_numbers(text: str, valid: Sequence[int]) -> list[int]:
    """Source numbers cited in ``text``, in order of first citation; numbers not in ``valid`` dropped."""
    allowed = set(valid)
    out: list[int] = []
    for m in _MARKER.finditer(text):
        for n in _numbers(m.group(1)):
            if n in allowed and n not in out:
                out.append(n)
    return out


def clean_markers(text: str, valid: Sequence[int]) -> str:
    """``text`` with markers rewritten as ``[n]`` runs of valid numbers; markers naming none removed."""
    allowed = set(valid)

    def rewrite(m: re.Match[str]) -> str:
        numbers = list(dict.fromkeys(n for n in _numbers(m.group(1)) if n in allowed))
        return "".join(f"[{n}]" for n in numbers)

    cleaned = _MARKER.sub(rewrite, text)
    cleaned = re.sub(r"[ \t]+([.,;:!?])", r"\1", cleaned)  # " ." left where a marker went
    return re.sub(r"[ \t]{2,}", " ", cleaned).strip()


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """``text`` up to the first stop string (adapters stop there; this guards against ones that
    return the stop string itself or ignore it)."""
    positions = [i for s in stop if (i := text.find(s)) >= 0]
    return text[: min(positions)] if positions else text


def tidy(text: str, *, cut_unfinished: bool) -> str:
    """Generated text without repeated sentences (small models loop), without a dangling list number
    at the end and, with ``cut_unfinished`` (the token limit was hit), without a last sentence left
    unfinished when a finished one precedes it."""
    sentences = split_sentences(text)
    seen: set[str] = set()
    kept = []
    for sentence in sentences:
        key = " ".join(sentence.text.lower().split())
        if key not in seen:
            seen.add(key)
            kept.append(sentence)
    if len(kept) > 1 and _LIST_NUMBER.fullmatch(kept[-1].text):
        kept.pop()  # "... 3." : a list item that never came
    if cut_unfinished and len(kept) > 1 and not _FINISHED.search(kept[-1].text):
        kept.pop()
    if len(kept) == len(sentences):
        return text.strip()
    return " ".join(s.text for s in kept)


def summary_prompt(text: str, target_words: int, style: str) -> str:
    """The prompt that summarizes ``text`` in about ``target_words`` words, as a paragraph or bullets."""
    shape = "as a short bulleted list" if style == "bullets" else "in one paragraph"
    instruction = (
        f"Summarize the text below {shape} of about {target_words} words. Use only facts from the text."
    )
    opening = "\n-" if style == "bullets" else ""
    return f"{instruction}\n\nText:\n{text.strip()}\n\nSummary:{opening}"


def summary_prompt_overhead(target_words: int, style: str, count_tokens: CountTokens) -> int:
    """Tokens a summary prompt takes besides the text itself."""
    return count_tokens(summary_prompt("", target_words, style)) + 2


def pack_parts(pieces: Sequence[str], budget: int, count_tokens: CountTokens) -> list[str]:
    """Consecutive ``pieces`` (sentences) joined into parts of at most ``budget`` tokens each; a piece
    larger than the budget is cut into word runs that fit."""
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for piece in pieces:
        size = count_tokens(piece) + 1  # the joining space or line break
        if size > budget:
            if current:
                parts.append(" ".join(current))
                current, used = [], 0
            parts.extend(_split_words(piece, budget, count_tokens))
            continue
        if current and used + size > budget:
            parts.append(" ".join(current))
            current, used = [], 0
        current.append(piece)
        used += size
    if current:
        parts.append(" ".join(current))
    return parts


def _split_words(text: str, budget: int, count_tokens: CountTokens) -> list[str]:
    """An oversized piece cut into consecutive runs of words of at most ``budget`` tokens each."""
    out: list[str] = []
    rest = text.strip()
    while rest:
        head = truncate_to_tokens(rest, budget, count_tokens)
        head = head.removesuffix(_ELLIPSIS) if head != rest else head
        if not head:  # a single word over the budget: cut by characters
            head = rest[: max(1, budget)]
        out.append(head)
        rest = rest[len(head) :].strip()
    return out


__all__ = [
    "ANSWER_INSTRUCTIONS",
    "ANSWER_STOP",
    "MIN_SOURCE_TOKENS",
    "SUMMARY_STOP",
    "PackedPrompt",
    "PromptSource",
    "answer_prompt",
    "cited_numbers",
    "clean_markers",
    "cut_at_stop",
    "pack_parts",
    "source_block",
    "summary_prompt",
    "tidy",
    "summary_prompt_overhead",
    "truncate_to_tokens",
]
