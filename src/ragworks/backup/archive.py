"""The archive on disk: a gzipped tar whose first member is the manifest.

Reading trusts nothing before it is checked: the manifest comes first, every later member must be a
regular file the manifest lists, at a path inside the archive's few top-level names, with the size and
SHA-256 the manifest gives, and every listed file must be there. Members are written under a staging
folder as they stream by; the caller deletes it when anything fails.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
import zlib
from pathlib import Path, PurePosixPath
from typing import IO

from ragworks.backup.manifest import MANIFEST_NAME, BackupError, FileEntry, Manifest
from ragworks.backup.progress import Reporter

# What a data dir's backup may hold: the database, uploads, the index and the callback key.
TOP_LEVEL = frozenset({"ragworks.db", "blobs", "index", "callback.secret"})
_MANIFEST_MAX_BYTES = 64 * 1024 * 1024
_PIECE = 1 << 20
_DAMAGED = (tarfile.TarError, zlib.error, EOFError, gzip.BadGzipFile)


def write_archive(dest: Path, staging: Path, manifest: Manifest, reporter: Reporter) -> None:
    """Write ``manifest`` and the files it lists (found under ``staging``) to ``dest``.

    The archive is written beside ``dest`` and renamed into place once complete and fsync'd, so a
    file named ``dest`` is always a whole archive.
    """
    partial = dest.with_name(f".{dest.name}.partial")
    reporter.stage("writing the archive", sum(entry.size for entry in manifest.files))
    try:
        with tarfile.open(partial, "w:gz", compresslevel=6) as tar:
            raw = manifest.to_json()
            info = tarfile.TarInfo(MANIFEST_NAME)
            info.size, info.mode = len(raw), 0o644
            tar.addfile(info, io.BytesIO(raw))
            for entry in manifest.files:
                tar.add(staging / entry.path, arcname=entry.path, recursive=False, filter=_plain)
                reporter.advance(entry.size)
        with partial.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, dest)
    finally:
        partial.unlink(missing_ok=True)


def extract_archive(src: Path, staging: Path, reporter: Reporter) -> Manifest:
    """Extract the archive at ``src`` under ``staging``, checking every file against the manifest.

    Raises:
        BackupError: the archive is damaged, is not a ragworks backup, or a file differs from the
            manifest (missing, unexpected, another size or checksum).
    """
    try:
        with tarfile.open(src, "r:gz") as tar:
            manifest = _manifest(tar)
            expected = {entry.path: entry for entry in manifest.files}
            for path in expected:
                _check_path(path)
            reporter.stage("checking and extracting", sum(entry.size for entry in manifest.files))
            seen: set[str] = set()
            while (member := tar.next()) is not None:  # iterating would start over at the manifest
                entry = expected.get(member.name)
                if entry is None or member.name in seen or not member.isfile():
                    raise BackupError(f"the archive holds an entry its manifest does not list: {member.name}")
                seen.add(member.name)
                source = tar.extractfile(member)
                assert source is not None  # a regular file always has contents
                _extract(source, staging / entry.path, entry, reporter)
            _drain(tar)
    except _DAMAGED as exc:
        raise BackupError(f"{src} is damaged: {exc}") from None
    missing = sorted(set(expected) - seen)
    if missing:
        raise BackupError(
            f"the archive lacks {len(missing)} file(s) its manifest lists, e.g. {missing[0]}: it is "
            "truncated or damaged"
        )
    return manifest


def _manifest(tar: tarfile.TarFile) -> Manifest:
    first = tar.next()
    if first is None or first.name != MANIFEST_NAME or not first.isfile():
        raise BackupError("not a ragworks backup: the archive does not begin with its manifest")
    if first.size > _MANIFEST_MAX_BYTES:
        raise BackupError("not a ragworks backup: the manifest is implausibly large")
    handle = tar.extractfile(first)
    assert handle is not None
    return Manifest.from_json(handle.read())


def _drain(tar: tarfile.TarFile) -> None:
    """Read the compressed stream to its end, so gzip checks its CRC over every byte."""
    stream = tar.fileobj
    assert stream is not None
    while stream.read(_PIECE):
        pass


def _check_path(path: str) -> None:
    """Refuse a manifest path that could land outside the data dir or on a name restore does not own."""
    parts = PurePosixPath(path).parts
    unsafe = not parts or PurePosixPath(path).is_absolute() or any(p in ("", ".", "..") for p in parts)
    if unsafe or "\\" in path or "\0" in path or parts[0] not in TOP_LEVEL:
        raise BackupError(f"the manifest lists a path restore will not write: {path!r}")


def _extract(source: IO[bytes], target: Path, entry: FileEntry, reporter: Reporter) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    with target.open("xb") as out:
        while piece := source.read(_PIECE):
            digest.update(piece)
            size += len(piece)
            out.write(piece)
            reporter.advance(len(piece))
        out.flush()
        os.fsync(out.fileno())
    if size != entry.size or digest.hexdigest() != entry.sha256:
        raise BackupError(
            f"checksum mismatch for {entry.path}: the archive was changed or damaged after it was made"
        )


def _plain(info: tarfile.TarInfo) -> tarfile.TarInfo:
    # ownership and mode of the machine that made the archive mean nothing where it is restored
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o600 if info.name == "callback.secret" else 0o644
    return info
