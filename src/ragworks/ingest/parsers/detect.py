"""Format detection from the bytes themselves; the file name is only a hint for text-like content."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import PurePosixPath
from typing import Final, Literal, get_args

import olefile

from ragworks.ingest.parsers.base import (
    CorruptDocument,
    EmptyDocument,
    EncryptedDocument,
    UnsupportedMediaType,
)
from ragworks.ingest.parsers.encoding import decode_text, utf16_without_bom
from ragworks.ingest.parsers.safety import check_member_count

DocumentFormat = Literal["pdf", "docx", "hwp", "hwpx", "html", "markdown", "text", "json", "jsonl"]
FORMATS: Final[tuple[DocumentFormat, ...]] = get_args(DocumentFormat)

_ZIP = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_HWP_SIGNATURE = b"HWP Document File"
_HWPX_MIMETYPE = b"application/hwp+zip"

# Signatures of common binary files, so the error can say what was uploaded.
_BINARY_SIGNATURES: Final[tuple[tuple[bytes, str], ...]] = (
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"II*\x00", "TIFF image"),
    (b"MM\x00*", "TIFF image"),
    (b"\x7fELF", "ELF executable"),
    (b"\x1f\x8b", "gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "7z archive"),
    (b"Rar!\x1a\x07", "RAR archive"),
    (b"BZh", "bzip2 archive"),
    (b"\xfd7zXZ\x00", "xz archive"),
    (b"SQLite format 3\x00", "SQLite database"),
    (b"OggS", "Ogg media"),
    (b"ID3", "MP3 audio"),
    (b"fLaC", "FLAC audio"),
    (b"\x00asm", "WebAssembly module"),
    (b"{\\rtf", "RTF document"),
    (_HWP_SIGNATURE, "HWP 3.0 document (only HWP 5.0 and HWPX are supported)"),
)

_EXTENSION_HINTS: Final[dict[str, DocumentFormat]] = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".mdown": "markdown",
    ".mkd": "markdown",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
_TEXT_CONTROLS = frozenset(b"\t\n\r\x0b\x0c\x1b")


def _extension(filename: str | None) -> str:
    return PurePosixPath(filename.replace("\\", "/")).suffix.lower() if filename else ""


def _zip_format(data: bytes) -> DocumentFormat:
    check_member_count(data)  # runs in the API process: a zip of 500,000 members must not be listed
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "word/document.xml" in names:
                return "docx"
            if "Contents/section0.xml" in names:
                return "hwpx"
            if "mimetype" in names:
                with archive.open("mimetype") as member:  # capped: a bomb may hide behind any name
                    if member.read(256).strip() == _HWPX_MIMETYPE:
                        return "hwpx"
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        raise CorruptDocument(f"damaged zip container: {exc}") from exc
    shown = ", ".join(sorted(names)[:5])
    raise UnsupportedMediaType(f"zip archive that is neither DOCX nor HWPX (members: {shown})")


def _ole_format(data: bytes) -> DocumentFormat:
    try:
        with olefile.OleFileIO(io.BytesIO(data)) as ole:
            if ole.exists("EncryptedPackage"):
                raise EncryptedDocument("password-protected Office document")
            if ole.exists("FileHeader"):
                with ole.openstream("FileHeader") as stream:
                    if stream.read(len(_HWP_SIGNATURE)) == _HWP_SIGNATURE:
                        return "hwp"
    except (OSError, ValueError, EOFError) as exc:  # olefile raises OSError for damaged containers
        raise CorruptDocument(f"damaged OLE2 compound file: {exc}") from exc
    raise UnsupportedMediaType("OLE2 compound file that is not HWP 5.0 (legacy .doc/.xls/.ppt?)")


def _looks_binary(sample: bytes) -> bool:
    """NUL bytes or many control characters mean binary data (UTF-16 is ruled out before)."""
    if b"\x00" in sample:
        return True
    controls = sum(1 for byte in sample if byte < 0x20 and byte not in _TEXT_CONTROLS)
    return controls > len(sample) * 0.02


def _is_html(text: str) -> bool:
    head = text[:4096].lstrip().lower()
    if head.startswith("<?xml"):
        head = head[head.find("?>") + 2 :].lstrip()
    return head.startswith(("<!doctype html", "<html")) or "<body" in head or "<head" in head


def _parses_as_json(text: str, hint: DocumentFormat | None) -> DocumentFormat | None:
    stripped = text.strip()
    if not stripped.startswith(("{", "[")):
        return None
    try:
        json.loads(stripped)
        return "json"
    except RecursionError:
        # Nested deeper than Python's stack allows: JSON (whose parser then refuses it with the reason)
        # unless the name says Markdown or HTML.
        return None if hint else "json"
    except ValueError:  # JSONDecodeError, or an integer of more than 4,300 digits
        pass
    lines = [line for line in stripped.splitlines() if line.strip()]
    try:
        records = [json.loads(line) for line in lines]
    except RecursionError:
        return None if hint else "jsonl"
    except ValueError:
        return None
    return "jsonl" if all(isinstance(r, dict) for r in records) else None


def detect_format(data: bytes, filename: str | None) -> DocumentFormat:
    """Decide the format of an upload from its content, using the file name only for text-like data."""
    if not data or data.isspace():
        raise EmptyDocument("the file is empty")
    if data[:1024].lstrip()[:5] == b"%PDF-":
        return "pdf"
    if data.startswith(_ZIP):
        return _zip_format(data)
    if data.startswith((b"PK\x05\x06", b"PK\x07\x08")):
        raise UnsupportedMediaType("empty or spanned zip archive")
    if data.startswith(_OLE):
        return _ole_format(data)
    for signature, name in _BINARY_SIGNATURES:
        if data.startswith(signature):
            raise UnsupportedMediaType(f"unsupported file type: {name}")
    sample = data[:65536]
    has_bom = sample.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"))
    if not has_bom and utf16_without_bom(sample) is None and _looks_binary(sample):
        raise UnsupportedMediaType("unsupported file type: binary data that is not a known document format")
    text = decode_text(data).text
    if not text.strip():
        raise EmptyDocument("the file contains only whitespace")
    hint = _EXTENSION_HINTS.get(_extension(filename))
    if hint in ("json", "jsonl"):
        return hint
    if _is_html(text):
        return "html"
    sniffed = _parses_as_json(text, hint)
    if sniffed is not None:
        return sniffed
    return hint if hint in ("markdown", "html") else "text"
