"""Structure-aware chunking: whole blocks packed under a token budget, split only where they must be.

Chunks never run across a heading (unless the whole document fits in one chunk) nor across a page
break (so a chunk's page is the page it is on, which citations rely on); an oversized
block is split at sentence ends (rows for tables and code), an oversized sentence at spaces.
Consecutive chunks of one section share about ``overlap_tokens`` of trailing sentences.
Every chunk's text is exactly ``doc.text[start:end]``.

Sizes come from ``count_tokens`` applied to each block and, for oversized blocks, to each sentence,
once; a chunk's size is the sum of its parts. That sum is exact for tokenizers that split on
whitespace first (WordPiece, as in the MiniLM embedder), since parts are cut at whitespace. A part
counts as at least one token per 16 characters, so text the tokenizer sees as one unknown token (a
megabyte without a space) still makes chunks of bounded length.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ragworks.ingest.types import ChunkDraft

if TYPE_CHECKING:
    from ragworks.ingest.parsers.base import Block, ParsedDocument

# A sentence ends at . ? ! (and their CJK forms) plus closing quotes, before whitespace; at a line
# break; or, in Korean written without a space after the stop ("했다.그리고"), between Hangul.
# A match may only start where a run of stops starts, and the runs are taken whole (possessive): a
# run not followed by whitespace is then given up once, not retried from each of its characters,
# which made a million dots take hours.
_SENTENCE_END = re.compile(
    r"(?<![.?!…。？！])[.?!…。？！]++[\"'”’)\]]*+(?=\s|$)|\n|(?<=[\uac00-\ud7a3][.?!])(?=[\uac00-\ud7a3])"
)
# English WordPiece averages 4-5 characters a token, Hangul far fewer: a block longer than this many
# characters per token of budget is oversized for any tokenizer we expect.
_CHARS_PER_TOKEN = 4
# A word the tokenizer cannot split (over 100 characters: a base64 blob, a run of one letter) is a single
# [UNK] token however long it is; every unit is counted as at least one token per this many characters,
# so such text is still cut into chunks of bounded length (4,096 characters for 256 tokens).
_MAX_CHARS_PER_TOKEN = 16
_LINE_END = re.compile(r"\n")
_WORD = re.compile(r"\S+")
# Words whose trailing period is not a sentence end ("etc." is left out: it usually ends one).
_ABBREVIATION_WORDS = """
mr mrs ms dr prof sr jr st vs fig figs eq eqs al approx ca cf no nos vol pp p ref refs
inc ltd co corp dept univ e.g i.e
"""
_ABBREVIATIONS = frozenset(_ABBREVIATION_WORDS.split())


@dataclass(frozen=True, slots=True)
class _Unit:
    """A span of ``doc.text`` that is packed whole: a block, a sentence, a row, or a run of words."""

    start: int
    end: int
    tokens: int
    block: int  # index of the block it comes from
    whole: bool  # the unit is a whole block (so it may still be split for overlap)
    heading: bool = False


class Chunker:
    """Cuts a parsed document into chunks of at most ``max_tokens`` embedder tokens."""

    def __init__(
        self, count_tokens: Callable[[str], int], max_tokens: int = 256, overlap_tokens: int = 32
    ) -> None:
        """Keep the token counter and the budget; the overlap may be at most half the budget."""
        if max_tokens < 1 or not 0 <= overlap_tokens < max_tokens // 2 + 1:
            raise ValueError("need max_tokens >= 1 and 0 <= overlap_tokens <= max_tokens / 2")
        self._count_tokens = count_tokens
        self._max = max_tokens
        self._overlap = overlap_tokens

    def _count(self, text: str) -> int:
        """Tokens of ``text``, and at least one per ``_MAX_CHARS_PER_TOKEN`` characters."""
        floor = -(-len(text) // _MAX_CHARS_PER_TOKEN)
        if floor > self._max:
            # Oversized whatever the tokenizer says, and the caller splits it: tokenizing a megabyte
            # of punctuation only to learn that would take seconds.
            return floor
        return max(self._count_tokens(text), floor)

    def chunk(self, doc: ParsedDocument) -> list[ChunkDraft]:
        """Return the chunks of ``doc`` in reading order, with offsets into ``doc.text``."""
        text = doc.text
        blocks = doc.blocks
        units: list[_Unit] = []
        pieces: dict[int, list[_Unit]] = {}  # block index -> its pieces, for blocks already split
        offset = 0
        for i, block in enumerate(blocks):
            stripped = block.text.strip()
            if stripped:
                start = offset + len(block.text) - len(block.text.lstrip())
                end = start + len(stripped)
                unit = _Unit(start, end, 0, i, True, block.kind == "heading")
                if len(stripped) > _CHARS_PER_TOKEN * self._max:
                    # Surely oversized: count its pieces instead, so no text is tokenized twice.
                    pieces[i] = list(self._split(text, block, unit))
                    n = sum(p.tokens for p in pieces[i])
                else:
                    n = self._count(stripped)
                units.append(_Unit(start, end, n, i, True, unit.heading))
            offset += len(block.text) + 2
        if not units:
            return []
        headings = _nearest_headings(blocks)
        pages = {blocks[u.block].page for u in units} - {None}
        if sum(u.tokens for u in units) <= self._max and len(pages) <= 1:
            groups = [units]
        else:
            groups = list(self._pack(text, blocks, units, pieces))
        return [self._draft(n, g, text, blocks, headings) for n, g in enumerate(groups)]

    def _pack(
        self, text: str, blocks: list[Block], blocks_units: list[_Unit], pieces: dict[int, list[_Unit]]
    ) -> Iterator[list[_Unit]]:
        cur: list[_Unit] = []
        used = 0
        for unit in blocks_units:
            has_content = any(not u.heading for u in cur)
            new_page = bool(cur) and _page_break(blocks[cur[-1].block], blocks[unit.block])
            if (unit.heading and has_content) or new_page:
                yield cur  # a heading or a new page always starts a new chunk, without overlap
                cur, used, has_content = [], 0, False
            if used + unit.tokens <= self._max:
                cur.append(unit)
                used += unit.tokens
                continue
            if unit.tokens <= self._max and has_content:
                parts = [unit]
            else:
                # Oversized block, or a block that would leave its heading alone: fill sentence-wise.
                parts = pieces.get(unit.block) or list(self._split(text, blocks[unit.block], unit))
            for part in parts:
                if cur and used + part.tokens > self._max:
                    yield cur
                    cur = self._tail(text, cur, min(self._overlap, self._max - part.tokens))
                    used = sum(u.tokens for u in cur)
                cur.append(part)
                used += part.tokens
        if cur:
            yield cur

    def _split(self, text: str, block: Block, unit: _Unit) -> Iterator[_Unit]:
        """Pieces of a block that each fit the budget: sentences (rows), else words, else characters."""
        pattern = _LINE_END if block.kind in ("table", "code") else _SENTENCE_END
        for start, end in _spans(text, unit.start, unit.end, pattern):
            n = self._count(text[start:end])
            if n <= self._max:
                yield _Unit(start, end, n, unit.block, False)
            else:
                yield from self._split_words(text, start, end, unit.block)

    def _split_words(self, text: str, start: int, end: int, block: int) -> Iterator[_Unit]:
        piece_start, piece_end, used = start, start, 0
        for m in _WORD.finditer(text, start, end):
            n = self._count(m.group())
            if n > self._max:
                if used:
                    yield _Unit(piece_start, piece_end, used, block, False)
                yield from self._split_chars(text, m.start(), m.end(), n, block)
                piece_start, piece_end, used = m.end(), m.end(), 0
                continue
            if used and used + n > self._max:
                yield _Unit(piece_start, piece_end, used, block, False)
                piece_start, used = m.start(), 0
            if not used:
                piece_start = m.start()
            piece_end = m.end()
            used += n
        if used:
            yield _Unit(piece_start, piece_end, used, block, False)

    def _split_chars(self, text: str, start: int, end: int, tokens: int, block: int) -> Iterator[_Unit]:
        """Last resort for a single "word" longer than the budget (a URL, a base64 blob, CJK prose)."""
        step = max(1, (end - start) * self._max * 9 // (tokens * 10))
        for s in range(start, end, step):
            e = min(end, s + step)
            n = self._count(text[s:e])
            if n <= self._max or e - s == 1:
                # Counts of pieces cut inside a word do not add up, so each piece fills a chunk alone.
                yield _Unit(s, e, self._max, block, False)
            else:
                yield from self._split_chars(text, s, e, n, block)

    def _tail(self, text: str, units: list[_Unit], budget: int) -> list[_Unit]:
        """Trailing whole sentences of ``units`` worth at most ``budget`` tokens, else trailing words."""
        tail: list[_Unit] = []
        used = 0
        first = units[0].start
        for unit in reversed(units):
            if unit.heading:
                break
            if unit.whole:
                spans = _spans(text, unit.start, unit.end, _SENTENCE_END)
            else:
                spans = [(unit.start, unit.end)]
            for start, end in reversed(spans):
                if start <= first:
                    return tail  # never repeat a whole chunk
                n = unit.tokens if len(spans) == 1 else self._count(text[start:end])
                if used + n > budget:
                    if tail or budget * 2 < self._overlap:
                        return tail  # a few words squeezed in front of a big block only add noise
                    return self._word_tail(text, start, end, budget, unit.block)
                tail.insert(0, _Unit(start, end, n, unit.block, False))
                used += n
        return tail

    def _word_tail(self, text: str, start: int, end: int, budget: int, block: int) -> list[_Unit]:
        used, tail_start = 0, end
        for m in reversed(list(_WORD.finditer(text, start, end))):
            n = self._count(m.group())
            if used + n > budget:
                break
            used, tail_start = used + n, m.start()
        return [_Unit(tail_start, end, used, block, False)] if used else []

    @staticmethod
    def _draft(
        ordinal: int, units: list[_Unit], text: str, blocks: list[Block], headings: list[str | None]
    ) -> ChunkDraft:
        start, end = units[0].start, units[-1].end
        content = next((u for u in units if not u.heading), units[0])
        return ChunkDraft(
            ordinal=ordinal,
            text=text[start:end],
            start=start,
            end=end,
            page=blocks[units[0].block].page,
            heading=headings[content.block],
        )


def _spans(text: str, start: int, end: int, pattern: re.Pattern[str]) -> list[tuple[int, int]]:
    """Non-empty, whitespace-trimmed pieces of ``text[start:end]`` cut after each boundary match."""
    cuts = [start]
    for m in pattern.finditer(text, start, end):
        if m.group().startswith(".") and _is_abbreviation(text, m.start(), start, end):
            continue
        cuts.append(m.end())
    cuts.append(end)
    spans = []
    for s, e in zip(cuts, cuts[1:], strict=False):
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if s < e:
            spans.append((s, e))
    return spans


def _is_abbreviation(text: str, dot: int, start: int, end: int) -> bool:
    """Whether the period at ``dot`` closes an abbreviation or initial rather than a sentence."""
    word_start = dot
    while word_start > start and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start:dot].lower().lstrip("(\"'")
    if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha() and word.isascii()):
        return True
    nxt = dot + 1
    while nxt < end and (text[nxt].isspace() or text[nxt] in "\"'”’)]."):
        nxt += 1
    # "et al. reported", "approx. five": a lower-case Latin word next means the sentence goes on.
    return nxt < end and text[nxt].isascii() and text[nxt].islower()


def _page_break(before: Block, after: Block) -> bool:
    """Whether two blocks lie on different known pages."""
    return before.page is not None and after.page is not None and before.page != after.page


def _nearest_headings(blocks: list[Block]) -> list[str | None]:
    """For each block, the text of the nearest heading at or above it."""
    out: list[str | None] = []
    current: str | None = None
    for block in blocks:
        if block.kind == "heading" and block.text.strip():
            current = block.text.strip()
        out.append(current)
    return out


__all__ = ["Chunker"]
