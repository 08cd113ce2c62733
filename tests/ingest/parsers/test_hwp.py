"""HWP 5.0 (real Hancom files) and HWPX."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import olefile
import pytest

from helpers import hostile
from ragworks.ingest.parsers import (
    DocumentTooComplex,
    EmptyDocument,
    EncryptedDocument,
    ParseLimits,
    parse_document,
)
from ragworks.ingest.parsers.detect import detect_format


@pytest.mark.parametrize(
    ("name", "phrase"),
    [
        ("sample-5017.hwp", "한글 2005 예제 파일입니다"),
        ("lists.hwp", "문단번호 두 번째 (번호 이어짐)"),
        ("footnote-endnote.hwp", "각주참조"),
        ("multicolumns.hwp", "다단 다단"),
    ],
)
def test_real_hwp_files_yield_their_text(name: str, phrase: str, hwp_dir: Path, limits: ParseLimits) -> None:
    document = parse_document((hwp_dir / name).read_bytes(), name, limits)
    assert document.format == "hwp"
    assert phrase in document.text


def test_hwp_tables_become_table_blocks(hwp_dir: Path, limits: ParseLimits) -> None:
    document = parse_document((hwp_dir / "sample-5017.hwp").read_bytes(), None, limits)
    tables = [b.text for b in document.blocks if b.kind == "table"]
    assert "A0 | B0\nA1 | B10 B11" in tables


def test_hwp_title_comes_from_summary_information(hwp_dir: Path, limits: ParseLimits) -> None:
    document = parse_document((hwp_dir / "sample-5017.hwp").read_bytes(), None, limits)
    assert document.title == "제목입니다."


def test_hwp_footnotes_and_endnotes_are_kept(hwp_dir: Path, limits: ParseLimits) -> None:
    text = parse_document((hwp_dir / "footnote-endnote.hwp").read_bytes(), None, limits).text
    assert "[^1] 각주입니다." in text
    assert "[^e2] 미주 두 번째입니다." in text


def test_hwp_whose_only_table_is_empty_has_no_text(hwp_dir: Path, limits: ParseLimits) -> None:
    # table.hwp holds a single table whose cells contain no text at all (its PrvText preview is "<><><>").
    data = (hwp_dir / "table.hwp").read_bytes()
    assert detect_format(data, "table.hwp") == "hwp"
    with pytest.raises(EmptyDocument):
        parse_document(data, "table.hwp", limits)


def test_password_protected_hwp_is_encrypted(hwp_dir: Path, limits: ParseLimits) -> None:
    data = bytearray((hwp_dir / "sample-5017.hwp").read_bytes())
    # The container keeps a stale copy of the FileHeader sector too; set bit 1 of the properties word
    # ("the document has a password") in every copy.
    header = data.find(b"HWP Document File")
    while header != -1:
        data[header + 36] |= 0x02
        header = data.find(b"HWP Document File", header + 1)
    with pytest.raises(EncryptedDocument, match="password") as caught:
        parse_document(bytes(data), "locked.hwp", limits)
    assert caught.value.code == "encrypted_document"


def test_hwpx_text_and_table_in_order(make_hwpx: Callable[..., bytes], limits: ParseLimits) -> None:
    document = parse_document(make_hwpx(), "doc.hwpx", limits)
    assert document.format == "hwpx"
    assert [(b.kind, b.text) for b in document.blocks] == [
        ("paragraph", "한글 HWPX 문서의 첫 문단입니다."),
        ("table", "이름 | 값\n속도 | 42"),
        ("paragraph", "마지막 문단입니다."),
    ]


def test_hwpx_with_encryption_manifest_is_encrypted(
    make_hwpx: Callable[..., bytes], limits: ParseLimits
) -> None:
    manifest = (
        '<odf:manifest xmlns:odf="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
        '<odf:file-entry odf:full-path="Contents/section0.xml"><odf:encryption-data/></odf:file-entry>'
        "</odf:manifest>"
    )
    data = make_hwpx(extra={"META-INF/manifest.xml": manifest})
    with pytest.raises(EncryptedDocument):
        parse_document(data, "locked.hwpx", limits)


def _streams(path: Path) -> dict[str, bytes]:
    with olefile.OleFileIO(str(path)) as ole:
        return {"/".join(name): ole.openstream(name).read() for name in ole.listdir()}


def test_hwp_rebuilt_by_the_test_writer_reads_like_the_original(hwp_dir: Path, limits: ParseLimits) -> None:
    # The compound-file writer the bomb tests use produces files the parser reads like Hancom's own.
    original = hwp_dir / "sample-5017.hwp"
    rebuilt = hostile.make_ole(_streams(original))
    assert (
        parse_document(rebuilt, None, limits).text == parse_document(original.read_bytes(), None, limits).text
    )


@pytest.mark.timeout(10)
@pytest.mark.parametrize("stream", ["BodyText/Section0", "DocInfo"])
def test_hwp_deflate_bomb_is_refused_before_the_library_inflates_it(hwp_dir: Path, stream: str) -> None:
    streams = _streams(hwp_dir / "sample-5017.hwp")
    streams[stream] = hostile.deflate_zeros(40 << 20)  # 40 kB that inflate to 40 MB
    limits = ParseLimits(max_uncompressed_bytes=20 << 20)
    with pytest.raises(DocumentTooComplex, match="decompression bomb") as caught:
        parse_document(hostile.make_ole(streams), "bomb.hwp", limits)
    assert caught.value.code == "document_limit_exceeded"
