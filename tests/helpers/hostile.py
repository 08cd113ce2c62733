"""Builders for hostile files: bombs, entity expansions, deep nesting and lying headers, made in memory.

Every builder writes the file from scratch (nothing is downloaded) and is sized to take well under a
second; the limits a test passes to the parser are lowered instead of the files made huge.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Callable

from helpers.files import HWPX_SECTION, add_zero_member, make_docx, make_hwpx

# --- XML entity tricks, for a DOCX or HWPX part ------------------------------------------------------

# Ten levels of ten references: 10^9 copies of "lol" once expanded.
BILLION_LAUGHS = (
    '<!DOCTYPE root [<!ENTITY a0 "lol">'
    + "".join(f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10))
    + "]>"
)
# One 50 kB entity referenced 50,000 times: 2.5 GB without any nesting.
QUADRATIC_BLOWUP = '<!DOCTYPE root [<!ENTITY big "' + "B" * 50_000 + '">]>'
QUADRATIC_REFERENCES = "&big;" * 50_000


def external_entity(path: str) -> str:
    """A DTD whose entity ``xxe`` reads the file at ``path`` (XXE)."""
    return f'<!DOCTYPE root [<!ENTITY xxe SYSTEM "file://{path}">]>'


def _with_doctype(xml: str, doctype: str, old_text: str, new_text: str) -> str:
    """``xml`` with ``doctype`` after its declaration and ``old_text`` replaced by ``new_text``."""
    end = xml.index("?>") + 2
    return xml[:end] + doctype + xml[end:].replace(old_text, new_text, 1)


def docx_with_doctype(doctype: str, body: str) -> bytes:
    """A DOCX whose word/document.xml declares ``doctype`` and holds ``body`` as its paragraph's text."""
    marker = "PARAGRAPH-MARKER"
    source = make_docx(lambda document: document.add_paragraph(marker))
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(source)) as archive, zipfile.ZipFile(out, "w") as target:
        for info in archive.infolist():
            content = archive.read(info.filename)
            if info.filename == "word/document.xml":
                content = _with_doctype(content.decode(), doctype, marker, body).encode()
            target.writestr(info, content, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def hwpx_with_doctype(doctype: str, body: str) -> bytes:
    """An HWPX whose section0.xml declares ``doctype`` and holds ``body`` in its last paragraph."""
    return make_hwpx(_with_doctype(HWPX_SECTION, doctype, "마지막 문단입니다.", body))


# --- Zip containers ----------------------------------------------------------------------------------


def with_members(data: bytes, members: dict[str, bytes]) -> bytes:
    """A copy of the zip ``data`` with ``members`` added."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info, source.read(info.filename))
        for name, content in members.items():
            target.writestr(name, content, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def with_many_members(data: bytes, count: int) -> bytes:
    """A copy of the zip ``data`` with ``count`` empty members added."""
    return with_members(data, {f"customXml/item{i}.bin": b"" for i in range(count)})


def zip_bomb(size: int) -> bytes:
    """A zip holding one member of ``size`` zero bytes (about 1,000 times smaller compressed)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w"):
        pass
    return add_zero_member(out.getvalue(), "zeros.bin", size)


# --- OLE2 compound files (HWP 5.0) --------------------------------------------------------------------

_SECTOR = 512
_MINI_SECTOR = 64
_MINI_CUTOFF = 4096
_END_OF_CHAIN, _FAT_SECTOR, _FREE, _NO_STREAM = 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF, 0xFFFFFFFF
_STORAGE, _STREAM, _ROOT = 1, 2, 5


def _cfb_order(name: str) -> tuple[int, str]:
    """Siblings are ordered by name length, then by upper-cased name (MS-CFB 2.6.4)."""
    return len(name), name.upper()


class _CompoundFile:
    """A minimal writer of version 3 compound files: streams, storages, a mini stream, one FAT."""

    def __init__(self) -> None:
        self.sectors: list[bytes] = []
        self.fat: list[int] = []
        self.mini = bytearray()
        self.mini_fat: list[int] = []

    def _chain(self, data: bytes, size: int, table: list[int], store: Callable[[bytes], None]) -> int:
        start = len(table)
        count = -(-len(data) // size)
        for i in range(count):
            store(data[i * size : (i + 1) * size].ljust(size, b"\0"))
            table.append(start + i + 1 if i < count - 1 else _END_OF_CHAIN)
        return start

    def add(self, data: bytes) -> int:
        """Store a stream's bytes; returns its first (mini) sector."""
        if not data:
            return _END_OF_CHAIN
        if len(data) < _MINI_CUTOFF:
            return self._chain(data, _MINI_SECTOR, self.mini_fat, self.mini.extend)
        return self._chain(data, _SECTOR, self.fat, self.sectors.append)

    def regular(self, data: bytes) -> int:
        """Store bytes in regular sectors whatever their size (mini stream, mini FAT, directory)."""
        return self._chain(data, _SECTOR, self.fat, self.sectors.append) if data else _END_OF_CHAIN


def _entry(name: str, kind: int, child: int, right: int, start: int, size: int) -> bytes:
    encoded = (name.encode("utf-16-le") + b"\0\0") if name else b""
    return struct.pack(
        "<64sHBBIII16sIQQIQ",
        encoded,
        len(encoded),
        kind,
        1,  # black: a chain of right siblings is a valid (if unbalanced) tree for readers
        _NO_STREAM,
        right,
        child,
        b"",
        0,
        0,
        0,
        start,
        size,
    )


def make_ole(streams: dict[str, bytes]) -> bytes:
    """A compound file holding ``streams`` (paths like "BodyText/Section0"; storages are implied)."""
    cfb = _CompoundFile()
    names: list[str] = [""]  # entry 0 is the root
    kinds, starts, sizes = [_ROOT], [_END_OF_CHAIN], [0]
    children: dict[int, list[int]] = {0: []}
    for path, data in streams.items():
        parent = 0
        parts = path.split("/")
        for depth, part in enumerate(parts):
            found = next((i for i in children[parent] if names[i] == part), None)
            if found is None:
                found = len(names)
                names.append(part)
                is_stream = depth == len(parts) - 1
                kinds.append(_STREAM if is_stream else _STORAGE)
                starts.append(cfb.add(data) if is_stream else _END_OF_CHAIN)
                sizes.append(len(data) if is_stream else 0)
                children[parent].append(found)
                children[found] = []
            parent = found
    starts[0], sizes[0] = cfb.regular(bytes(cfb.mini)), len(cfb.mini)
    mini_fat = b"".join(struct.pack("<I", n) for n in cfb.mini_fat)
    mini_fat_start = cfb.regular(mini_fat.ljust(-(-len(mini_fat) // _SECTOR) * _SECTOR, b"\xff"))
    child, right = [_NO_STREAM] * len(names), [_NO_STREAM] * len(names)
    for parent, kids in children.items():
        ordered = sorted(kids, key=lambda i: _cfb_order(names[i]))
        if ordered:
            child[parent] = ordered[0]
        for left, following in zip(ordered, ordered[1:], strict=False):
            right[left] = following
    entries = [_entry(names[i], kinds[i], child[i], right[i], starts[i], sizes[i]) for i in range(len(names))]
    entries += [_entry("", 0, _NO_STREAM, _NO_STREAM, 0, 0)] * (-len(entries) % 4)
    directory_start = cfb.regular(b"".join(entries))
    fat_sectors = 1
    while len(cfb.sectors) + fat_sectors > fat_sectors * (_SECTOR // 4):
        fat_sectors += 1
    first_fat = len(cfb.sectors)
    fat = cfb.fat + [_FAT_SECTOR] * fat_sectors
    fat += [_FREE] * (fat_sectors * (_SECTOR // 4) - len(fat))
    difat = [first_fat + i for i in range(fat_sectors)] + [_FREE] * (109 - fat_sectors)
    header = struct.pack(
        "<8s16sHHHHH6sIIIIIIIII109I",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        b"",
        0x3E,
        3,
        0xFFFE,
        9,
        6,
        b"",
        0,
        fat_sectors,
        directory_start,
        0,
        _MINI_CUTOFF,
        mini_fat_start if cfb.mini_fat else _END_OF_CHAIN,
        -(-len(mini_fat) // _SECTOR),
        _END_OF_CHAIN,
        0,
        *difat,
    )
    fat_bytes = b"".join(struct.pack("<I", n) for n in fat)
    return header + b"".join(cfb.sectors) + fat_bytes


def deflate_zeros(size: int, *, zlib_header: bool = False) -> bytes:
    """``size`` zero bytes deflated (about 1,000 times smaller): a raw stream, as HWP 5.0 writes its
    streams, or with the zlib header a PDF's FlateDecode expects."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS)
    chunk = bytes(1024 * 1024)
    parts = [compressor.compress(chunk) for _ in range(size // len(chunk))]
    return b"".join(parts) + compressor.flush()


# --- Images ------------------------------------------------------------------------------------------


def png_bomb(side: int = 100_000) -> bytes:
    """A PNG of ``side`` x ``side`` grey pixels (10 gigapixels by default) in a few kilobytes: only its
    first megabyte of rows is really there, which is all a decoder would need to start allocating."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    rows = zlib.compress(bytes(1 << 20), 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


# --- PDF ---------------------------------------------------------------------------------------------

_FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


def pdf_from_objects(objects: list[bytes]) -> bytes:
    """A PDF whose object ``i + 1`` is ``objects[i]``, with a correct cross-reference table; object 1
    is the catalog."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def pdf_stream(content: bytes, entries: bytes = b"") -> bytes:
    """A stream object body."""
    return b"<< /Length %d %s >>\nstream\n%s\nendstream" % (len(content), entries, content)


def one_page_pdf(content: bytes, stream_entries: bytes = b"", catalog_entries: bytes = b"") -> bytes:
    """A one-page PDF whose page draws ``content`` (a content stream, Helvetica as /F1)."""
    return pdf_from_objects(
        [
            b"<< /Type /Catalog /Pages 2 0 R %s >>" % catalog_entries,
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
            _FONT,
            pdf_stream(content, stream_entries),
        ]
    )


def text_content(text: str) -> bytes:
    """A content stream that writes ``text`` (ASCII) at the top of the page."""
    return b"BT /F1 12 Tf 72 720 Td (%s) Tj ET" % text.encode("ascii")


def many_page_pdf(pages: int, declared: int | None = None, content: bytes | None = None) -> bytes:
    """A PDF with ``pages`` pages sharing one content stream (the object body ``content``, by default
    one that writes "page") whose page tree declares ``declared`` pages (by default, the truth)."""
    content = content or pdf_stream(text_content("page"))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"", _FONT, content]
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
    page += b"/Contents 4 0 R >>"
    kids = b" ".join(b"%d 0 R" % (len(objects) + 1 + i) for i in range(pages))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages if declared is None else declared)
    objects += [page] * pages
    return pdf_from_objects(objects)


def slow_pdf(pages: int = 4) -> bytes:
    """A PDF whose every page draws 900,000 text operators: 15 s and more of pypdf's time per page, each
    page just under pypdf's cap of 2 million tokens per content stream, so only a time limit stops it."""
    operators = b"BT /F1 12 Tf 72 720 Td " + b"(A) Tj " * 900_000 + b"ET"
    return many_page_pdf(pages, content=pdf_stream(zlib.compress(operators), b"/Filter /FlateDecode"))


def pdf_with_image_bomb(side: int = 50_000) -> bytes:
    """A one-page PDF that writes "hello" and draws a ``side`` x ``side`` grey image (2.5 gigapixels by
    default) whose FlateDecode data is a few kilobytes of zeros."""
    image = pdf_stream(
        deflate_zeros(8 << 20, zlib_header=True),
        b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
        b"/BitsPerComponent 8 /Filter /FlateDecode" % (side, side),
    )
    content = b"q 500 0 0 500 50 50 cm /Im1 Do Q " + text_content("hello")
    return pdf_from_objects(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 4 0 R >> /XObject << /Im1 6 0 R >> >> /Contents 5 0 R >>",
            _FONT,
            pdf_stream(content),
            image,
        ]
    )
