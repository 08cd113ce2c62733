"""DOCX: headings, paragraphs and tables in body order; zip bombs are refused before inflating."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from typing import Any

import pytest

from helpers import hostile
from ragworks.ingest.parsers import CorruptDocument, DocumentTooComplex, ParseLimits, parse_document


def _report(document: Any) -> None:
    document.core_properties.title = "분기 보고서"
    document.add_heading("Overview", level=1)
    document.add_paragraph("Sales grew in every region.")
    table = document.add_table(rows=2, cols=3)
    for row, values in zip(table.rows, [("Region", "Q1", "Q2"), ("Seoul", "10", "12")], strict=True):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    document.add_heading("Details", level=2)
    document.add_paragraph("First point", style="List Bullet")
    document.add_paragraph("Second point", style="List Bullet")
    document.add_paragraph("Closing remarks.")


@pytest.fixture
def report(make_docx: Callable[[Callable[[Any], None]], bytes]) -> bytes:
    return make_docx(_report)


def test_blocks_follow_body_order_with_kinds(report: bytes, limits: ParseLimits) -> None:
    document = parse_document(report, "report.docx", limits)
    assert [(b.kind, b.level, b.text) for b in document.blocks] == [
        ("heading", 1, "Overview"),
        ("paragraph", 0, "Sales grew in every region."),
        ("table", 0, "Region | Q1 | Q2\nSeoul | 10 | 12"),
        ("heading", 2, "Details"),
        ("list", 0, "First point\nSecond point"),
        ("paragraph", 0, "Closing remarks."),
    ]


def test_title_comes_from_core_properties(report: bytes, limits: ParseLimits) -> None:
    assert parse_document(report, "report.docx", limits).title == "분기 보고서"


def test_title_falls_back_to_first_heading(
    make_docx: Callable[[Callable[[Any], None]], bytes], limits: ParseLimits
) -> None:
    data = make_docx(lambda d: (d.add_heading("Only Heading", level=1), d.add_paragraph("text")))
    assert parse_document(data, None, limits).title == "Only Heading"


def test_merged_cells_appear_once(
    make_docx: Callable[[Callable[[Any], None]], bytes], limits: ParseLimits
) -> None:
    def build(document: Any) -> None:
        table = document.add_table(rows=2, cols=2)
        table.cell(0, 0).merge(table.cell(0, 1)).text = "Merged header"
        table.cell(1, 0).text, table.cell(1, 1).text = "a", "b"

    document = parse_document(make_docx(build), None, limits)
    assert document.blocks[0].text == "Merged header\na | b"


def test_zip_bomb_is_refused(
    make_docx: Callable[[Callable[[Any], None]], bytes],
    add_zero_member: Callable[[bytes, str, int], bytes],
    limits: ParseLimits,
) -> None:
    bomb = add_zero_member(make_docx(lambda d: d.add_paragraph("x")), "word/media/zeros.bin", 300 << 20)
    with pytest.raises(DocumentTooComplex, match="decompression bomb") as caught:
        parse_document(bomb, "bomb.docx", limits)
    assert caught.value.code == "document_limit_exceeded"


def test_total_uncompressed_size_is_limited(report: bytes) -> None:
    with pytest.raises(DocumentTooComplex, match="bytes uncompressed"):
        parse_document(report, "report.docx", ParseLimits(max_uncompressed_bytes=1000))


def test_broken_document_xml_is_corrupt(report: bytes, limits: ParseLimits) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(report)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = source.read(info.filename)
            target.writestr(
                info, b"<w:document><unclosed>" if info.filename == "word/document.xml" else content
            )
    with pytest.raises(CorruptDocument) as caught:
        parse_document(out.getvalue(), "broken.docx", limits)
    assert caught.value.code == "corrupt_document"


@pytest.mark.timeout(10)
def test_picture_that_is_a_decompression_bomb_is_never_decoded(
    make_docx: Callable[[Callable[[Any], None]], bytes], limits: ParseLimits
) -> None:
    # A 10-gigapixel PNG: any decoder would try to allocate it (Pillow refuses it as a bomb).
    def build(document: Any) -> None:
        document.add_paragraph("Report with a picture.")
        document.add_picture(io.BytesIO(hostile.png_bomb()))

    assert parse_document(make_docx(build), "picture.docx", limits).text == "Report with a picture."
