"""Text analysis for BM25: the same analyzer turns documents and queries into index terms.

Korean goes through Kiwi morphological analysis and keeps content morphemes only, so "지사의",
"지사는" and "지사가" all give "지사". A compound noun written as one word ("시중은행") gives its
parts and the whole ("시중", "은행", "시중은행"). Latin-script text (also inside Korean text) is lower-cased,
split on non-alphanumerics, stripped of English stop words and Snowball-stemmed.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

import Stemmer

# Snowball's English stop-word list (snowballstem.org, english/stop.txt).
_SNOWBALL_STOP_WORDS = """
i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she
her hers herself it its itself they them their theirs themselves what which who whom this that
these those am is are was were be been being have has had having do does did doing would should
could ought i'm you're he's she's it's we're they're i've you've we've they've i'd you'd he'd
she'd we'd they'd i'll you'll he'll she'll we'll they'll isn't aren't wasn't weren't hasn't
haven't hadn't doesn't don't didn't won't wouldn't shan't shouldn't can't cannot couldn't
mustn't let's that's who's what's here's there's when's where's why's how's a an the and but
if or because as until while of at by for with about against between into through during
before after above below to from up down in out on off over under again further then once
here there when where why how all any both each few more most other some such no nor not only
own same so than too very
"""
ENGLISH_STOP_WORDS: frozenset[str] = frozenset(_SNOWBALL_STOP_WORDS.split())

# Kiwi tags whose morphemes carry meaning (prefix before "-", e.g. "VV-I" for an irregular verb).
# NNG/NNP/NNB nouns, NR numerals, XR roots, VV/VA verb and adjective stems, SH hanja.
KOREAN_CONTENT_TAGS: frozenset[str] = frozenset({"NNG", "NNP", "NNB", "NR", "XR", "VV", "VA", "SH"})

# Korean writes compound nouns either as one word or spaced ("시중은행", "시중 은행"); Kiwi splits the
# one-word form into its parts, so both spellings meet on the parts. Nouns of these tags that touch (no
# space or other morpheme between them) also give their joined form, so a document that spells the
# compound as the query does ranks above one that only has the parts somewhere.
KOREAN_COMPOUND_TAGS: frozenset[str] = frozenset({"NNG", "NNP", "NR", "XR", "SH"})

# Kiwi tags for non-Hangul material (foreign words, numbers, symbols, URLs). Consecutive tokens of
# these kinds are re-read from the original text and sent through the English path, so that
# "COVID-19" or "don't" give the same terms inside Korean text as in English text.
_LATIN_TAGS: frozenset[str] = frozenset(
    {"SL", "SN", "SO", "SW", "SS", "SSO", "SSC", "SP", "SF", "SE"}
    | {"W_URL", "W_EMAIL", "W_SERIAL", "W_HASHTAG", "W_MENTION"}
)

# A Hangul share of the letters at or above this makes a text Korean (see Analyzer.language_of).
KOREAN_SHARE_THRESHOLD = 0.2

_HANGUL = re.compile("[\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\uac00-\ud7a3\ud7b0-\ud7ff]")
_KANA = re.compile("[\u3040-\u30ff]")
_HAN = re.compile("[\u4e00-\u9fff\u3400-\u4dbf]")
# A word: letters/digits, optionally joined by ' - . , (covid-19, 3.5, 1,000, u.s., don't).
_WORD = re.compile(r"[^\W_]+(?:['.,\-][^\W_]+)*")
_NUMBER = re.compile(r"[0-9]+(?:[.,][0-9]+)*")
_STEM_CACHE_LIMIT = 500_000
# Longer words (a hex digest is 64) are base64 blobs, runs of one letter and the like: nobody searches
# for them, and kept they would fill the stem cache and the term dictionaries with megabyte-long terms.
MAX_WORD_CHARS = 64
# Kiwi reads a run of letters longer than that about six times slower than real Korean (0.2 ms a
# character: four minutes for a megabyte of one syllable) and finds no morphemes in it, so such runs
# are taken out before Kiwi sees the text.
_LONG_RUN = re.compile(rf"(?<![^\W_])[^\W_]{{{MAX_WORD_CHARS + 1},}}")
_SEPARATOR = re.compile(r"[-.,']")
# Kiwi slows down quadratically on a long run without spaces (punctuation such as "-." repeated: 30 s
# for 200,000 characters), so a longer text reaches it in pieces of at most this many characters, cut
# at a space where there is one. Chunks of real text are shorter, so their analysis is unchanged.
_KIWI_PIECE_CHARS = 4096


class Analyzer:
    """Turns text into BM25 terms; call start() before analysing Korean text."""

    def __init__(self, num_workers: int | None = None) -> None:
        """Prepare the cheap parts; Kiwi (heavy) is loaded by start()."""
        self._num_workers = num_workers
        self._kiwi: Any = None
        self._start_lock = threading.Lock()
        self._stemmer = Stemmer.Stemmer("english")
        # word -> stem, or "" for a stop word; plain dict lookups are far cheaper than stemming.
        self._stems: dict[str, str] = dict.fromkeys(ENGLISH_STOP_WORDS, "")

    @property
    def started(self) -> bool:
        """Whether Kiwi is loaded."""
        return self._kiwi is not None

    def start(self) -> None:
        """Load the Kiwi model (about 2 s); safe to call more than once."""
        with self._start_lock:
            if self._kiwi is None:
                from kiwipiepy import Kiwi

                self._kiwi = Kiwi(num_workers=self._num_workers)

    def language_of(self, text: str) -> str:
        """Return "ko" when Hangul is at least KOREAN_SHARE_THRESHOLD of the letters, else ja/zh/en."""
        letters = sum(1 for ch in text if ch.isalpha())
        if letters == 0:
            return "en"
        hangul = len(_HANGUL.findall(text))
        if hangul >= KOREAN_SHARE_THRESHOLD * letters:
            return "ko"
        if _KANA.search(text):
            return "ja"
        if len(_HAN.findall(text)) * 2 >= letters:
            return "zh"
        return "en"

    def tokens(self, text: str) -> list[str]:
        """Return the index terms of one text (a document chunk or a query)."""
        return self.tokens_many([text])[0]

    def tokens_many(self, texts: Sequence[str]) -> list[list[str]]:
        """Return the terms of many texts; Korean ones go through Kiwi's multi-threaded batch path."""
        normalised = [_normalise(t) for t in texts]
        out: list[list[str]] = [[] for _ in normalised]
        owners: list[int] = []  # for each piece of Korean text, the text it comes from
        pieces: list[str] = []
        for i, text in enumerate(normalised):
            if _HANGUL.search(text):
                for piece in _kiwi_pieces(_without_long_runs(text)):
                    owners.append(i)
                    pieces.append(piece)
            else:
                out[i] = self._english(text)
        if pieces:
            kiwi = self._require_kiwi()
            # A single text is faster on the calling thread than through the worker pool.
            results = [kiwi.tokenize(pieces[0])] if len(pieces) == 1 else kiwi.tokenize(pieces)
            for i, piece, morphemes in zip(owners, pieces, results, strict=True):
                out[i].extend(self._korean(piece, morphemes))
        return out

    def _require_kiwi(self) -> Any:
        if self._kiwi is None:
            raise RuntimeError("Analyzer.start() must be called before analysing Korean text")
        return self._kiwi

    def _korean(self, text: str, morphemes: Iterable[Any]) -> list[str]:
        out: list[str] = []
        run_start = run_end = -1  # span of the current run of non-Hangul tokens
        compound: list[str] = []  # touching nouns so far (KOREAN_COMPOUND_TAGS)
        previous_end = -1
        for m in morphemes:
            tag: str = m.tag
            base_tag = tag.split("-", 1)[0]
            if base_tag in KOREAN_COMPOUND_TAGS and m.start == previous_end and compound:
                compound.append(m.form)
            else:
                out.extend(_joined(compound))
                compound = [m.form] if base_tag in KOREAN_COMPOUND_TAGS else []
            previous_end = m.start + m.len
            if tag in _LATIN_TAGS:
                if run_start < 0:
                    run_start = m.start
                run_end = m.start + m.len
                continue
            if run_start >= 0:
                out.extend(self._english(text[run_start:run_end]))
                run_start = -1
            if base_tag in KOREAN_CONTENT_TAGS and len(m.form) <= MAX_WORD_CHARS:
                out.append(m.form)
        out.extend(_joined(compound))
        if run_start >= 0:
            out.extend(self._english(text[run_start:run_end]))
        return out

    def _english(self, text: str) -> list[str]:
        out: list[str] = []
        stems = self._stems
        for word in _WORD.findall(text.lower()):
            stem = stems.get(word)
            if stem is None:
                if len(word) > MAX_WORD_CHARS:
                    if not word.isalnum():  # a long compound still gives its parts of sensible length
                        out.extend(self._english(_SEPARATOR.sub(" ", word)))
                    continue
                if word.isalnum():
                    stem = self._stem(word)
                else:
                    out.extend(self._compound(word))
                    continue
            if stem:
                out.append(stem)
        return out

    def _stem(self, word: str) -> str:
        stem: str = self._stemmer.stemWord(word)
        if len(self._stems) > _STEM_CACHE_LIMIT:
            # Keep memory bounded on endless vocabularies (ids, numbers); stop words go back in.
            self._stems = dict.fromkeys(ENGLISH_STOP_WORDS, "")
        self._stems[word] = stem
        return stem

    def _compound(self, word: str) -> list[str]:
        """Terms of a word joined by punctuation: numbers, abbreviations, hyphenated words."""
        if _NUMBER.fullmatch(word):
            # 3.5 stays a decimal; thousands separators go (1,000 -> 1000).
            return [word.replace(",", "")]
        if re.fullmatch(r"[^\W_]+(?:'[^\W_]+)+", word):
            return [self._stem(word)]  # the Snowball stemmer drops possessive 's itself
        parts = [p for p in re.split(r"[-.,']", word) if p]
        if "." in word and all(len(p) == 1 for p in parts):
            return self._english("".join(parts))  # u.s.a -> usa, e.g -> eg
        out = self._english(" ".join(parts))
        if "-" in word and any(p.isdigit() for p in parts) and not all(p.isdigit() for p in parts):
            # covid-19 also gives covid19, so a query written either way meets the document.
            out.append("".join(parts))
        return out


def _joined(nouns: list[str]) -> list[str]:
    """The compound term of touching nouns: [] for a single noun or a compound too long to index."""
    if len(nouns) < 2:
        return []
    whole = "".join(nouns)
    return [whole] if len(whole) <= MAX_WORD_CHARS else []


def _without_long_runs(text: str) -> str:
    """``text`` with each run of more than MAX_WORD_CHARS letters and digits replaced by a space."""
    return _LONG_RUN.sub(" ", text) if len(text) > MAX_WORD_CHARS else text


def _kiwi_pieces(text: str) -> list[str]:
    """``text`` cut into pieces of at most _KIWI_PIECE_CHARS characters, each ending before a space
    where the window has one (and a run without spaces cut wherever it must)."""
    pieces: list[str] = []
    start = 0
    while len(text) - start > _KIWI_PIECE_CHARS:
        end = start + _KIWI_PIECE_CHARS
        space = max(text.rfind(char, start + 1, end) for char in " \n\t")
        if space > 0:
            end = space
        pieces.append(text[start:end])
        start = end
    pieces.append(text[start:])
    return pieces


def _normalise(text: str) -> str:
    # NFKC folds full-width Latin, circled numbers and decomposed Hangul jamo into plain forms.
    return text if text.isascii() else unicodedata.normalize("NFKC", text).replace("\u2019", "'")


__all__ = [
    "ENGLISH_STOP_WORDS",
    "KOREAN_COMPOUND_TAGS",
    "KOREAN_CONTENT_TAGS",
    "KOREAN_SHARE_THRESHOLD",
    "MAX_WORD_CHARS",
    "Analyzer",
]
