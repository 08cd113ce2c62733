"""Zip containers under hostile shapes: bombs, bombs nested inside, and tens of thousands of members."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

import pytest

from helpers import hostile
from ragworks.ingest.parsers import DocumentTooComplex, ParseLimits, detect_format, parse_document
from ragworks.ingest.parsers.safety import MAX_ZIP_MEMBERS, inflated_size

SMALL = ParseLimits(max_uncompressed_bytes=20 << 20, timeout_s=10)


@pytest.fixture
def docx_bytes(make_docx: Callable[[Callable[[Any], None]], bytes]) -> bytes:
    return make_docx(lambda document: document.add_paragraph("The quarterly report is attached."))


@pytest.mark.parametrize("format_", ["docx", "hwpx"])
def test_bomb_member_is_refused_before_inflating(
    format_: str, docx_bytes: bytes, make_hwpx: Callable[..., bytes]
) -> None:
    source = docx_bytes if format_ == "docx" else make_hwpx()
    bomb = hostile.with_members(source, {"media/zeros.bin": bytes(30 << 20)})  # 30 MB of zeros: ~30 kB
    with pytest.raises(DocumentTooComplex, match="decompression bomb") as caught:
        parse_document(bomb, f"bomb.{format_}", SMALL)
    assert caught.value.code == "document_limit_exceeded"


def test_a_zip_bomb_nested_inside_is_never_opened(docx_bytes: bytes) -> None:
    # A 60 MB bomb inside a zip inside the DOCX: only the inner zip's ~60 kB count against the limits,
    # since no parser opens archives embedded in a document.
    inner = hostile.zip_bomb(60 << 20)
    data = hostile.with_members(docx_bytes, {"word/embeddings/package.zip": inner})
    document = parse_document(data, "nested.docx", SMALL)
    assert document.text == "The quarterly report is attached."


def test_too_many_members_are_refused_by_the_parser(docx_bytes: bytes) -> None:
    data = hostile.with_many_members(docx_bytes, MAX_ZIP_MEMBERS + 1)
    with pytest.raises(DocumentTooComplex, match="members") as caught:
        parse_document(data, "many.docx", SMALL)
    assert caught.value.details["members"] > MAX_ZIP_MEMBERS


def test_too_many_members_are_refused_at_upload_before_listing_them(docx_bytes: bytes) -> None:
    data = hostile.with_many_members(docx_bytes, MAX_ZIP_MEMBERS + 1)
    with pytest.raises(DocumentTooComplex, match="members") as caught:
        detect_format(data, "many.docx")
    assert caught.value.status_code == 422


def test_a_document_with_many_members_under_the_limit_is_read(docx_bytes: bytes) -> None:
    data = hostile.with_many_members(docx_bytes, 2_000)
    assert parse_document(data, "fine.docx", SMALL).text == "The quarterly report is attached."


def test_inflated_size_stops_counting_past_the_limit() -> None:
    bomb = hostile.deflate_zeros(64 << 20)
    size = inflated_size(bomb, 1 << 20)
    assert 1 << 20 < size <= 2 << 20


@pytest.mark.parametrize(
    ("data", "size"),
    [
        (zlib.compress(b"abc" * 1000), 3000),
        (hostile.deflate_zeros(2 << 20), 2 << 20),  # raw deflate, as HWP 5.0 writes it
        (b"stored as it is", 15),
        (zlib.compress(b"abc" * 1000)[:20], None),  # cut off: what it gave before the end
    ],
    ids=["zlib", "raw-deflate", "plain", "truncated"],
)
def test_inflated_size_of_each_kind_of_stream(data: bytes, size: int | None) -> None:
    measured = inflated_size(data, 100 << 20)
    if size is None:
        assert 0 < measured < 3000
    else:
        assert measured == size
