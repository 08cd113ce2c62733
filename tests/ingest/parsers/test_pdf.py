"""PDF: paragraphs with page numbers, and the failure modes of real uploads."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ragworks.ingest.parsers import (
    CorruptDocument,
    DocumentTooComplex,
    EncryptedDocument,
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
