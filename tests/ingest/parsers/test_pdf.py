"""PDF: paragraphs with page numbers, and the failure modes of real uploads."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from helpers import hostile
from ragworks.ingest.parsers import (
    CorruptDocument,
    DocumentTooComplex,
    EncryptedDocument,
    IsolatedParser,
    ParseLimits,
    parse_document,
)

PAGES = [
    "Page one opening paragraph.\n\nPage one second paragraph.",
    "The second page talks about retrieval.",
    "The third page closes the report.",
]


def test_blocks_carry_their_page_number(make_pdf: Callable[..., bytes], limits: ParseLimits) -> None:
    document = parse_document(make_pdf(PAGES), "report.pdf", limits)
    assert document.format == "pdf"
    assert document.page_count == 3
    assert [(b.page, b.text) for b in document.blocks] == [
        (1, "Page one opening paragraph."),
        (1, "Page one second paragraph."),
        (2, "The second page talks about retrieval."),
        (3, "The third page closes the report."),
    ]


def test_title_comes_from_metadata(make_pdf: Callable[..., bytes], limits: ParseLimits) -> None:
    document = parse_document(make_pdf(PAGES, title="Annual Report"), "report.pdf", limits)
    assert document.title == "Annual Report"


def test_too_many_pages_is_refused(make_pdf: Callable[..., bytes]) -> None:
    with pytest.raises(DocumentTooComplex, match="3 pages") as caught:
        parse_document(make_pdf(PAGES), "report.pdf", ParseLimits(max_pages=2))
    assert caught.value.code == "document_limit_exceeded"


def test_password_protected_pdf_is_encrypted(
    make_pdf: Callable[..., bytes], encrypt_pdf: Callable[[bytes, str], bytes], limits: ParseLimits
) -> None:
    data = encrypt_pdf(make_pdf(PAGES), "secret")
    with pytest.raises(EncryptedDocument) as caught:
        parse_document(data, "locked.pdf", limits)
    assert caught.value.code == "encrypted_document"
    assert caught.value.status_code == 422


def test_pdf_encrypted_with_empty_user_password_opens(
    make_pdf: Callable[..., bytes], encrypt_pdf: Callable[[bytes, str], bytes], limits: ParseLimits
) -> None:
    document = parse_document(encrypt_pdf(make_pdf(PAGES), ""), "permissions.pdf", limits)
    assert "The third page closes the report." in document.text


def test_truncated_pdf_is_corrupt(make_pdf: Callable[..., bytes], limits: ParseLimits) -> None:
    with pytest.raises(CorruptDocument) as caught:
        parse_document(make_pdf(PAGES)[:300], "cut.pdf", limits)
    assert caught.value.code == "corrupt_document"


def test_garbage_after_pdf_header_is_corrupt(limits: ParseLimits) -> None:
    with pytest.raises(CorruptDocument):
        parse_document(b"%PDF-1.7\n" + b"this is not a pdf body\n" * 20, "fake.pdf", limits)


# Hostile PDFs, written object by object (helpers.hostile): each ends fast, and with a reason.


@pytest.mark.timeout(10)
def test_flate_bomb_in_a_content_stream_is_refused(limits: ParseLimits) -> None:
    bomb = hostile.deflate_zeros(100 << 20, zlib_header=True)  # 100 kB that inflate to 100 MB
    data = hostile.one_page_pdf(bomb, stream_entries=b"/Filter /FlateDecode")
    with pytest.raises(DocumentTooComplex, match="parser limit") as caught:
        parse_document(data, "bomb.pdf", limits)
    assert caught.value.code == "document_limit_exceeded"


@pytest.mark.timeout(10)
def test_page_tree_declaring_100k_pages_is_refused_before_it_is_walked(limits: ParseLimits) -> None:
    with pytest.raises(DocumentTooComplex, match="100000 pages") as caught:
        parse_document(hostile.many_page_pdf(100_000), "huge.pdf", limits)
    assert caught.value.details == {"pages": 100_000, "max_pages": limits.max_pages}


@pytest.mark.timeout(10)
def test_page_tree_hiding_pages_behind_a_small_count_stops_at_the_limit() -> None:
    # The walk stops after 2 entries per allowed page, however many pages the tree hides.
    with pytest.raises(DocumentTooComplex, match="page tree entry limit"):
        parse_document(hostile.many_page_pdf(20_000, declared=1), "lying.pdf", ParseLimits(max_pages=100))


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("stream_entries", "catalog_entries"),
    [
        (b"", b"/Deep " + b"[" * 20_000 + b"]" * 20_000),
        (b"", b"/Deep " + b"<< /A " * 20_000 + b"1" + b" >>" * 20_000),
        (b"/Deep " + b"[" * 20_000 + b"]" * 20_000, b""),
    ],
    ids=["arrays-in-catalog", "dictionaries-in-catalog", "arrays-in-stream"],
)
def test_deeply_nested_objects_end_fast(
    stream_entries: bytes, catalog_entries: bytes, limits: ParseLimits
) -> None:
    data = hostile.one_page_pdf(hostile.text_content("hello"), stream_entries, catalog_entries)
    try:
        document = parse_document(data, "deep.pdf", limits)
    except (CorruptDocument, DocumentTooComplex):  # refused, with its reason
        return
    assert document.text == "hello"  # or the nesting is skipped and the page read


@pytest.mark.timeout(30)
def test_huge_content_streams_stop_at_the_time_limit() -> None:
    with IsolatedParser(ParseLimits(timeout_s=1)) as pool:
        pool.parse(b"warm up the worker", None)
        with pytest.raises(DocumentTooComplex, match="longer than 1 s") as caught:
            pool.parse(hostile.slow_pdf(), "slow.pdf")
        assert caught.value.details == {"timeout_s": 1}
        assert pool.parse(b"the next file", None).text == "the next file"


@pytest.mark.timeout(10)
def test_image_that_is_a_decompression_bomb_is_never_decoded(limits: ParseLimits) -> None:
    # 2.5 gigapixels in 9 kB: text extraction skips image XObjects.
    assert parse_document(hostile.pdf_with_image_bomb(), "image.pdf", limits).text == "hello"
