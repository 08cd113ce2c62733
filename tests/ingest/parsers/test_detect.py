"""Format detection looks at the bytes first; the file name only breaks ties for text."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from ragworks.errors import UnsupportedMediaType
from ragworks.ingest.parsers import (
    CorruptDocument,
    DocumentTooComplex,
    EmptyDocument,
    EncryptedDocument,
    ParseLimits,
    detect_format,
    parse_document,
)

PNG_HEADER = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00"


def test_pdf_named_txt_is_detected_as_pdf(make_pdf: Callable[..., bytes]) -> None:
    assert detect_format(make_pdf(["hello"]), "notes.txt") == "pdf"


def test_docx_is_recognised_by_its_members(make_docx: Callable[..., bytes]) -> None:
    data = make_docx(lambda d: d.add_paragraph("x"))
    assert detect_format(data, "upload.bin") == "docx"


def test_hwpx_is_recognised_by_its_members(make_hwpx: Callable[..., bytes]) -> None:
    assert detect_format(make_hwpx(), None) == "hwpx"


def test_hwp_is_recognised_by_its_file_header(hwp_dir: Path) -> None:
    assert detect_format((hwp_dir / "lists.hwp").read_bytes(), "lists.pdf") == "hwp"


def test_html_is_sniffed_from_content() -> None:
    assert detect_format(b"\xef\xbb\xbf  <!DOCTYPE html><html><body>x</body></html>", "page.txt") == "html"


def test_markdown_comes_from_the_extension_hint() -> None:
    assert detect_format(b"# Title\n\nSome text.", "README.md") == "markdown"


def test_text_without_hint_is_text() -> None:
    assert detect_format("그냥 평범한 글입니다.".encode(), None) == "text"


def test_json_is_sniffed_from_content() -> None:
    assert detect_format(b'[{"text": "a"}]', None) == "json"


def test_jsonl_is_sniffed_from_content() -> None:
    assert detect_format(b'{"text": "a"}\n{"text": "b"}\n', "data.txt") == "jsonl"


def test_utf16_text_with_nul_bytes_is_text_not_binary() -> None:
    assert detect_format("plain words in UTF-16".encode("utf-16-le"), None) == "text"


def test_png_is_unsupported_and_named() -> None:
    with pytest.raises(UnsupportedMediaType, match="PNG image") as caught:
        detect_format(PNG_HEADER, "picture.txt")
    assert caught.value.status_code == 415
    assert caught.value.code == "unsupported_media_type"


def test_random_bytes_are_unsupported() -> None:
    data = random.Random(7).randbytes(4096)
    with pytest.raises(UnsupportedMediaType, match="binary data"):
        detect_format(data, "random.txt")


def test_other_zip_archives_are_unsupported() -> None:
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("photos/a.jpg", b"jpeg")
    with pytest.raises(UnsupportedMediaType, match="neither DOCX nor HWPX"):
        detect_format(out.getvalue(), "archive.docx")


def test_truncated_zip_is_corrupt() -> None:
    with pytest.raises(CorruptDocument):
        detect_format(b"PK\x03\x04" + b"\x00" * 40, "broken.docx")


def test_encrypted_office_file_is_reported_as_encrypted(hwp_dir: Path) -> None:
    # An encrypted .docx is an OLE2 file with an "EncryptedPackage" stream; renaming the FileHeader
    # directory entries (name: 64 bytes of UTF-16, then its byte length) of a real OLE2 file gives that.
    data = bytearray((hwp_dir / "lists.hwp").read_bytes())
    old, new = "FileHeader".encode("utf-16-le"), "EncryptedPackage".encode("utf-16-le")
    entry = data.find(old)
    while entry != -1:
        data[entry : entry + 64] = new.ljust(64, b"\x00")
        data[entry + 64 : entry + 66] = (len(new) + 2).to_bytes(2, "little")
        entry = data.find(old, entry + 1)
    with pytest.raises(EncryptedDocument) as caught:
        detect_format(bytes(data), "secret.docx")
    assert caught.value.code == "encrypted_document"


@pytest.mark.parametrize("data", [b"", b"   \r\n\t ", b"\xef\xbb\xbf\n"])
def test_empty_or_blank_input_is_empty(data: bytes) -> None:
    with pytest.raises(EmptyDocument) as caught:
        detect_format(data, "empty.txt")
    assert caught.value.code == "empty_document"
    assert caught.value.status_code == 422


# Detection runs in the API process at upload: hostile content must give a 4xx reason, never an exception
# of the JSON module (a 500).


@pytest.mark.parametrize(
    "data",
    [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 100_000, b'{"a": 1}\n' + b"[" * 100_000],
    ids=["arrays", "objects", "jsonl-line"],
)
def test_json_nested_deeper_than_the_stack_is_json_refused_by_its_parser(data: bytes) -> None:
    assert detect_format(data, None) in ("json", "jsonl")
    with pytest.raises(DocumentTooComplex, match="nested too deeply") as caught:
        parse_document(data, None, ParseLimits())
    assert caught.value.code == "document_limit_exceeded"


def test_deep_brackets_in_a_markdown_file_stay_markdown() -> None:
    assert detect_format(b"[" * 100_000, "notes.md") == "markdown"


def test_integer_too_long_for_python_is_not_json() -> None:
    assert detect_format(b"[" + b"1" * 5_000 + b"]", None) == "text"


@pytest.mark.parametrize(
    ("name", "expected"),
    [("report.pdf", "docx"), ("report.txt", "docx"), ("report.hwp", "docx"), ("report.md", "docx")],
)
def test_a_lying_extension_does_not_change_a_binary_format(
    make_docx: Callable[..., bytes], name: str, expected: str
) -> None:
    assert detect_format(make_docx(lambda d: d.add_paragraph("x")), name) == expected


@pytest.mark.parametrize(
    ("data", "name", "expected"),
    [
        (b"Just a few plain words.", "scan.pdf", "text"),
        (b"Just a few plain words.", "report.docx", "text"),
        (b"<html><body><p>A page.</p></body></html>", "notes.md", "html"),
    ],
)
def test_text_named_as_a_binary_format_is_read_as_what_it_is(data: bytes, name: str, expected: str) -> None:
    assert detect_format(data, name) == expected


def test_pdf_named_docx_that_is_damaged_is_corrupt_as_a_pdf() -> None:
    with pytest.raises(CorruptDocument, match="PDF"):
        parse_document(b"%PDF-1.7\nnot really a pdf", "report.docx", ParseLimits())


def test_image_named_txt_is_refused_as_an_image() -> None:
    with pytest.raises(UnsupportedMediaType, match="PNG image"):
        detect_format(PNG_HEADER + bytes(64), "notes.txt")


def test_text_with_nul_bytes_throughout_is_refused_as_binary() -> None:
    with pytest.raises(UnsupportedMediaType, match="binary data"):
        detect_format(b"hello\x00world " * 1_000, "notes.txt")
