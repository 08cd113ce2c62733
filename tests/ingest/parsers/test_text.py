"""Plain text in the encodings Korean users actually upload."""

from __future__ import annotations

import codecs

import pytest

from ragworks.errors import UnsupportedMediaType
from ragworks.ingest.parsers import DocumentTooComplex, ParseLimits, parse_document

KOREAN = "대한민국의 수도는 서울입니다.\n\n두 번째 문단은 한글 인코딩을 시험합니다."
PARAGRAPHS = ["대한민국의 수도는 서울입니다.", "두 번째 문단은 한글 인코딩을 시험합니다."]


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (KOREAN.encode("cp949"), "cp949"),
        (KOREAN.encode("euc-kr"), "cp949"),  # CP949 is a superset of EUC-KR and decodes it identically
        (codecs.BOM_UTF8 + KOREAN.encode(), "utf-8"),
        (KOREAN.encode("utf-16"), "utf-16"),  # with BOM
        (KOREAN.encode("utf-16-le"), "utf-16-le"),
        (KOREAN.encode("utf-16-be"), "utf-16-be"),
        (KOREAN.encode(), "utf-8"),
    ],
    ids=["cp949", "euc-kr", "utf-8-bom", "utf-16-bom", "utf-16-le", "utf-16-be", "utf-8"],
)
def test_korean_text_decodes_in_every_common_encoding(
    data: bytes, encoding: str, limits: ParseLimits
) -> None:
    document = parse_document(data, "memo.txt", limits)
    assert document.format == "text"
    assert [b.text for b in document.blocks] == PARAGRAPHS
    assert document.encoding == encoding


def test_windows_line_endings_still_split_paragraphs(limits: ParseLimits) -> None:
    document = parse_document(b"first line\r\nsame paragraph\r\n\r\nsecond", None, limits)
    assert [b.text for b in document.blocks] == ["first line\nsame paragraph", "second"]


def test_latin1_text_is_decoded_by_detection(limits: ParseLimits) -> None:
    text = "Le café est très apprécié à Genève, où l'on déguste aussi des crêpes sucrées."
    document = parse_document(text.encode("cp1252"), None, limits)
    assert document.text == text


def test_text_over_the_character_cap_is_refused() -> None:
    with pytest.raises(DocumentTooComplex, match="more than 100 characters") as caught:
        parse_document(("word " * 100).encode(), None, ParseLimits(max_text_chars=100))
    assert caught.value.code == "document_limit_exceeded"


# Broken encodings: a stray byte must not make a whole file unreadable, or turn it into mojibake.

PASSAGE = "서울 지사의 업무 범위는 고객 상담과 계약 관리입니다. " * 20


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (PASSAGE.encode()[:300] + b"\xff" + PASSAGE.encode()[300:], "utf-8"),
        (PASSAGE.encode("cp949") + b"\xff", "cp949"),
        (("Grüße aus Köln, schöne Straße. " * 20).encode()[:200] + b"\x80" + b" und mehr.", "utf-8"),
    ],
    ids=["utf-8-korean", "cp949", "utf-8-german"],
)
def test_text_with_one_broken_byte_keeps_its_encoding(
    data: bytes, encoding: str, limits: ParseLimits
) -> None:
    document = parse_document(data, "memo.txt", limits)
    assert document.encoding == encoding
    assert document.text.count("\ufffd") == 1


def test_text_cut_inside_its_last_character_is_read(limits: ParseLimits) -> None:
    data = PASSAGE.strip().rstrip(".").encode()[:-1]  # the last syllable loses its final byte
    document = parse_document(data, "cut.txt", limits)
    assert document.encoding == "utf-8"
    assert document.text.endswith("관리입니\ufffd")


def test_bytes_that_are_no_text_in_any_encoding_are_refused() -> None:
    with pytest.raises(UnsupportedMediaType, match="no text encoding"):
        parse_document(bytes(range(128, 256)) * 1_000, "noise.txt", ParseLimits())
