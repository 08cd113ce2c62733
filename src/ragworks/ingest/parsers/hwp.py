"""HWP 5.0 (OLE2) and HWPX (OWPML zip) through hwp-hwpx-parser: text, tables and footnotes/endnotes."""

from __future__ import annotations

import io
import struct
import tempfile
from pathlib import Path
from typing import Any

import olefile
from hwp_hwpx_parser import ExtractOptions, HWP5Reader, HWPXReader, ImageMarkerStyle, TableStyle

from ragworks.ingest.parsers.base import DocumentTooComplex, EncryptedDocument, ParsedDocument, ParseLimits
from ragworks.ingest.parsers.markdown import table_cells
from ragworks.ingest.parsers.safety import BlockCollector, inflated_size, open_zip, read_member
from ragworks.ingest.parsers.xml_guard import refuse_dtds

# FileHeader "properties" bits (HWP 5.0 spec, section 3.2.1) that mean the body text cannot be read:
# password (bit 1), DRM (bit 4), certificate encryption (bit 8), certificate DRM (bit 10).
_LOCKED_BITS = {
    0x02: "password-protected",
    0x10: "DRM-protected",
    0x100: "certificate-encrypted",
    0x400: "certificate-DRM-protected",
}
_SUMMARY_STREAM = "\x05HwpSummaryInformation"
_PIDSI_TITLE = 2
_MAX_MANIFEST_BYTES = 1024 * 1024
# Streams the library inflates whole with zlib.decompress, however large the result: the document
# information and the body text sections.
_INFLATED_STREAMS = ("DocInfo", "BodyText")
# Markdown tables are the one table style the library marks unambiguously, so blocks can be split out.
_OPTIONS = ExtractOptions(table_style=TableStyle.MARKDOWN, image_marker=ImageMarkerStyle.NONE)


def _summary_title(ole: Any) -> str | None:
    """Title from the HwpSummaryInformation property set, when the author filled it in."""
    try:
        properties = ole.getproperties(_SUMMARY_STREAM)
    except (OSError, ValueError, struct.error, IndexError, KeyError):  # a damaged summary is not fatal
        return None
    title = properties.get(_PIDSI_TITLE)
    # olefile does not stop at the string's terminating NUL for this stream, so cut there.
    return (title.split("\x00", 1)[0].strip() or None) if isinstance(title, str) else None


def _check_inflated_size(ole: Any, limits: ParseLimits) -> None:
    """Refuse an HWP file whose compressed streams inflate past ``limits.max_uncompressed_bytes``.

    HWP 5.0 keeps its text as deflate streams in an OLE2 container; a 50 MB upload of them can inflate
    to 50 GB, which the library would hold in memory.
    """
    total = 0
    for path in ole.listdir():
        if path[0] not in _INFLATED_STREAMS:
            continue
        with ole.openstream(path) as stream:
            total += inflated_size(stream.read(), limits.max_uncompressed_bytes - total)
        if total > limits.max_uncompressed_bytes:
            raise DocumentTooComplex(
                f"looks like a decompression bomb: the HWP text streams inflate to more than "
                f"{limits.max_uncompressed_bytes} bytes",
                details={"max_uncompressed_bytes": limits.max_uncompressed_bytes},
            )


def _read_hwp_header(data: bytes, limits: ParseLimits) -> str | None:
    """Refuse locked and bomb-like HWP files; return the document title from the summary information."""
    with olefile.OleFileIO(io.BytesIO(data)) as ole:
        with ole.openstream("FileHeader") as stream:
            header = stream.read(40)
        properties = struct.unpack_from("<I", header, 36)[0] if len(header) >= 40 else 0
        for bit, what in _LOCKED_BITS.items():
            if properties & bit:
                raise EncryptedDocument(f"the HWP document is {what}")
        _check_inflated_size(ole, limits)
        return _summary_title(ole) if ole.exists(_SUMMARY_STREAM) else None


def _check_hwpx_package(data: bytes, limits: ParseLimits) -> None:
    """Refuse bomb-like, DTD-declaring and password-protected HWPX packages."""
    with open_zip(data, limits) as archive:
        refuse_dtds(archive, "HWPX")
        if "META-INF/manifest.xml" in archive.namelist():
            manifest = read_member(archive, "META-INF/manifest.xml", _MAX_MANIFEST_BYTES)
            if b"encryption-data" in manifest.lower():
                raise EncryptedDocument("the HWPX document is password-protected")


def _is_table_line(line: str) -> bool:
    return len(line) >= 4 and line.startswith("| ") and line.endswith(" |")


def _table_rows(lines: list[str]) -> str:
    """Markdown table lines to " | "-joined rows, without the --- separator and all-empty rows."""
    rows = []
    for index, line in enumerate(lines):
        cells = table_cells(line)
        if index == 1 and all(set(cell) <= set("-:") for cell in cells):
            continue
        if any(cells):
            rows.append(" | ".join(cells))
    return "\n".join(rows)


def _add_text(blocks: BlockCollector, text: str) -> None:
    """One paragraph block per line; runs of markdown table lines become one table block."""
    table: list[str] = []
    for raw in text.split("\n"):
        line = raw.strip()
        if _is_table_line(line):
            table.append(line)
            continue
        if table:
            blocks.add(_table_rows(table), "table")
            table = []
        blocks.add(line)
    if table:
        blocks.add(_table_rows(table), "table")


def _extract(reader_class: Any, data: bytes, suffix: str) -> Any:
    # The library opens files by path only, so the bytes go to a private temporary file.
    with tempfile.TemporaryDirectory(prefix="ragworks-hwp-") as folder:
        path = Path(folder) / f"document{suffix}"
        path.write_bytes(data)
        with reader_class(path) as reader:
            return reader.extract_text_with_notes(_OPTIONS)


class HwpParser:
    """Parser for Hancom HWP 5.0 (``format="hwp"``) and HWPX (``format="hwpx"``) documents."""

    def __init__(self, format: str = "hwp") -> None:
        self.format = format
        self.mime = "application/hwp+zip" if format == "hwpx" else "application/x-hwp"

    def parse(self, data: bytes, limits: ParseLimits) -> ParsedDocument:
        """Extract body text and tables in order, then footnotes and endnotes as paragraphs."""
        title: str | None = None
        if self.format == "hwpx":
            _check_hwpx_package(data, limits)
            result = _extract(HWPXReader, data, ".hwpx")
        else:
            title = _read_hwp_header(data, limits)
            result = _extract(HWP5Reader, data, ".hwp")
        blocks = BlockCollector(limits)
        _add_text(blocks, result.text)
        for note in result.footnotes:
            blocks.add(f"[^{note.number}] {note.text}")
        for note in result.endnotes:
            blocks.add(f"[^e{note.number}] {note.text}")
        return ParsedDocument(format=self.format, mime=self.mime, blocks=blocks.blocks, title=title)
