"""Guards for untrusted input: zip-bomb checks, capped member reads and the extracted-text cap."""

from __future__ import annotations

import io
import zipfile
import zlib

from ragworks.ingest.parsers.base import (
    Block,
    BlockKind,
    CorruptDocument,
    DocumentTooComplex,
    ParseLimits,
)

MAX_ZIP_MEMBERS = 10_000
# Small members of real documents (repetitive XML) can compress 100x and more; a ratio only signals a bomb
# when the member is also big, so the ratio check starts at this declared size.
RATIO_CHECK_MIN_BYTES = 1024 * 1024
_CENTRAL_DIRECTORY_ENTRY = b"PK\x01\x02"
_INFLATE_STEP = 1024 * 1024


def check_member_count(data: bytes) -> None:
    """Refuse a zip with more than MAX_ZIP_MEMBERS members before zipfile reads its directory.

    zipfile builds an object per member (a 50 MB upload can hold 500,000: hundreds of megabytes); every
    member has a central directory record with this signature, so counting them (a fast byte search)
    bounds the member count from above.
    """
    count = data.count(_CENTRAL_DIRECTORY_ENTRY)
    if count > MAX_ZIP_MEMBERS:
        raise DocumentTooComplex(
            f"zip container has about {count} members (limit {MAX_ZIP_MEMBERS})", details={"members": count}
        )


def check_zip_limits(archive: zipfile.ZipFile, limits: ParseLimits) -> None:
    """Reject a zip whose declared sizes or compression ratios look like a decompression bomb.

    Python's zipfile stops decompressing a member at its declared size (and then fails the CRC check),
    so checking the declared sizes bounds what any later reader of the archive can inflate.
    """
    members = archive.infolist()
    if len(members) > MAX_ZIP_MEMBERS:
        raise DocumentTooComplex(f"zip container has {len(members)} members (limit {MAX_ZIP_MEMBERS})")
    total = 0
    for info in members:
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size >= RATIO_CHECK_MIN_BYTES and ratio > limits.max_compression_ratio:
            raise DocumentTooComplex(
                f"looks like a decompression bomb: member {info.filename!r} expands {ratio:.0f}x "
                f"(limit {limits.max_compression_ratio:.0f}x)",
                details={"member": info.filename, "ratio": round(ratio, 1)},
            )
    if total > limits.max_uncompressed_bytes:
        raise DocumentTooComplex(
            f"looks like a decompression bomb: {total} bytes uncompressed "
            f"(limit {limits.max_uncompressed_bytes})",
            details={"uncompressed_bytes": total},
        )


def open_zip(data: bytes, limits: ParseLimits) -> zipfile.ZipFile:
    """Open a zip container from bytes after checking it against the limits."""
    check_member_count(data)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise CorruptDocument(f"not a readable zip container: {exc}") from exc
    try:
        check_zip_limits(archive, limits)
    except BaseException:
        archive.close()
        raise
    return archive


def read_member(archive: zipfile.ZipFile, name: str, max_bytes: int) -> bytes:
    """Read one zip member, refusing to inflate more than max_bytes whatever its header claims."""
    with archive.open(name) as member:
        content = member.read(max_bytes + 1)
    if len(content) > max_bytes:
        raise DocumentTooComplex(f"zip member {name!r} is larger than {max_bytes} bytes")
    return content


def inflated_size(data: bytes, limit: int) -> int:
    """What ``data`` inflates to as a zlib or raw deflate stream (its own size if it is neither),
    counted a megabyte at a time and given up past ``limit``, so a bomb is never held in memory."""
    for wbits in (zlib.MAX_WBITS, -zlib.MAX_WBITS):
        inflater = zlib.decompressobj(wbits)
        size, pending = 0, data
        try:
            while size <= limit and not inflater.eof:
                out = inflater.decompress(pending, _INFLATE_STEP)
                if not out and len(inflater.unconsumed_tail) == len(pending):
                    break  # no progress: the input ends before the stream does
                size += len(out)
                pending = inflater.unconsumed_tail
        except zlib.error:
            continue
        return size
    return len(data)


class BlockCollector:
    """Gathers blocks in reading order, dropping empty ones and enforcing limits.max_text_chars."""

    def __init__(self, limits: ParseLimits) -> None:
        self.blocks: list[Block] = []
        self._max_chars = limits.max_text_chars
        self._chars = 0

    def add(
        self, text: str, kind: BlockKind = "paragraph", *, page: int | None = None, level: int = 0
    ) -> None:
        """Append a block unless its text is blank; raise DocumentTooComplex past the text cap."""
        text = text.replace("\x00", "").strip()
        if not text:
            return
        self._chars += len(text) + 2  # blocks are joined by a blank line in ParsedDocument.text
        if self._chars > self._max_chars:
            raise DocumentTooComplex(
                f"document has more than {self._max_chars} characters of text",
                details={"max_text_chars": self._max_chars},
            )
        self.blocks.append(Block(text=text, kind=kind, page=page, level=level))

    def first_heading(self) -> str | None:
        """Text of the first heading collected, used as a fallback title."""
        return next((b.text for b in self.blocks if b.kind == "heading"), None)
