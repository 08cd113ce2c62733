"""Decoding of text-like uploads whose encoding nobody declared (UTF-8/16 with or without BOM, CP949, ...)."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from charset_normalizer import from_bytes

from ragworks.ingest.parsers.base import UnsupportedMediaType

# Order matters: the UTF-32 LE BOM starts with the UTF-16 LE BOM.
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

_HANGUL = re.compile("[\uac00-\ud7a3]")
_SAMPLE = 64 * 1024
_PREFERRED_ON_TIE = ("cp1252", "latin_1")
# Broken sequences (a stray byte, a character cut off at the end) tolerated per non-ASCII character.
_MAX_BROKEN_SHARE = 0.05
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class DecodedText:
    """Text decoded from bytes, with the name of the encoding that was used."""

    text: str
    encoding: str


def _printable_ratio(text: str) -> float:
    if not text:
        return 0.0
    return sum(1 for ch in text if ch.isprintable() or ch in "\n\r\t") / len(text)


def utf16_without_bom(data: bytes) -> str | None:
    """Return "utf-16-le"/"utf-16-be" when NUL bytes sit on one side of the byte pairs, as in UTF-16."""
    sample = data[:_SAMPLE]
    sample = sample[: len(sample) - len(sample) % 2]
    pairs = len(sample) // 2
    if pairs < 2:
        return None
    even_nuls = sample[0::2].count(0)
    odd_nuls = sample[1::2].count(0)
    # Spaces, digits and Latin letters put a NUL in every other byte; Hangul rarely has NUL bytes, so a
    # modest share is required, and it must sit on one side: binary data has NULs on both.
    if odd_nuls + even_nuls < pairs * 0.05:
        return None
    if odd_nuls > 3 * even_nuls:
        candidate = "utf-16-le"
    elif even_nuls > 3 * odd_nuls:
        candidate = "utf-16-be"
    else:
        return None
    text = sample.decode(candidate, errors="replace")
    return candidate if _printable_ratio(text) >= 0.95 else None


def _try(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def _mostly_hangul(text: str) -> bool:
    """Whether the non-ASCII characters are mostly Hangul syllables, as in real CP949/EUC-KR text.

    Korean uploads are the common non-UTF-8 case and statistical detectors often misjudge short Korean
    text, so CP949 (a superset of EUC-KR) is tried first, but only kept when the result reads as Korean.
    """
    non_ascii = sum(1 for ch in text if ord(ch) > 0x7F)
    return non_ascii > 0 and len(_HANGUL.findall(text)) >= non_ascii * 0.7


def _mostly_valid(data: bytes, encoding: str) -> str | None:
    """``data`` decoded with broken sequences replaced by U+FFFD, when they are a small share of its
    non-ASCII characters; else None.

    One stray byte or a last character cut off must not make a whole UTF-8 or CP949 file unreadable
    (refused, or decoded as mojibake by the detector). Text in another encoding breaks at nearly every
    non-ASCII character and is left to the detector.
    """
    text = data.decode(encoding, errors="replace")
    broken = text.count("\ufffd")
    non_ascii = len(text) - len(text.encode("ascii", errors="ignore"))
    return text if 0 < broken <= _MAX_BROKEN_SHARE * non_ascii else None


def _declared_charset(data: bytes) -> str | None:
    """The charset an HTML/XML prologue declares, when it names a codec Python knows."""
    match = _META_CHARSET.search(data[:4096]) or re.search(rb"<\?xml[^>]+encoding=[\"']([^\"']+)", data[:200])
    if match is None:
        return None
    name = match.group(1).decode("ascii", "replace")
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_text(data: bytes) -> DecodedText:
    """Decode bytes of unknown encoding; raise UnsupportedMediaType when they are not text."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            text = _try(data, encoding)
            if text is not None:
                return DecodedText(text.lstrip("\ufeff"), encoding.removesuffix("-sig"))
    text = _try(data, "utf-8")
    if text is not None:
        return DecodedText(text, "utf-8")
    utf16 = utf16_without_bom(data)
    if utf16 is not None and (text := _try(data, utf16)) is not None:
        return DecodedText(text, utf16)
    declared = _declared_charset(data)
    if declared is not None and (text := _try(data, declared)) is not None:
        return DecodedText(text, declared)
    if (text := _try(data, "cp949")) is not None and _mostly_hangul(text):
        return DecodedText(text, "cp949")
    if (text := _mostly_valid(data, "utf-8")) is not None:
        return DecodedText(text, "utf-8")
    if (text := _mostly_valid(data, "cp949")) is not None and _mostly_hangul(text):
        return DecodedText(text, "cp949")
    matches = from_bytes(data)
    best = matches.best()
    if best is None:
        raise UnsupportedMediaType("binary data: no text encoding fits the bytes")
    # Short Western text often ties between several single-byte code pages; the most common one wins.
    tied = [m for m in matches if (m.chaos, m.coherence) == (best.chaos, best.coherence)]
    chosen = next((m for m in tied if m.encoding in _PREFERRED_ON_TIE), best)
    return DecodedText(str(chosen), chosen.encoding)


def normalize_newlines(text: str) -> str:
    """Turn CRLF and lone CR line ends into LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def split_paragraphs(text: str) -> list[str]:
    """Split text on blank lines into stripped, non-empty paragraphs."""
    parts = re.split(r"\n[ \t\f\v\u3000]*\n", normalize_newlines(text))
    return [p.strip() for p in parts if p.strip()]
