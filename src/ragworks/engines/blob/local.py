"""Blobs as files under the data directory, written atomically."""

from __future__ import annotations

import errno
import hashlib
import os
import re
import tempfile
from pathlib import Path

from ragworks.errors import DiskFull, NotFound

_KEY = re.compile(r"^[0-9a-f]{64}$")


class LocalBlobStore:
    """Files at ``root/ab/abcdef...``; a write is temp file + fsync + rename, so a crash never
    leaves a partial blob under its key."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, data: bytes) -> str:
        """Store ``data``; returns its SHA-256 hex key.

        Raises:
            DiskFull: the disk has no room for it (nothing is left behind).
        """
        key = hashlib.sha256(data).hexdigest()
        path = self._path(key)
        if path.exists():
            return key
        try:
            self._write(path, data)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise DiskFull(
                    "the data disk is full; the upload was not stored, free space and retry"
                ) from exc
            raise
        return key

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        """The stored bytes; NotFound if missing."""
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"blob {key} is missing") from None

    def delete(self, key: str) -> None:
        """Remove a blob if present."""
        self._path(key).unlink(missing_ok=True)

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"not a blob key: {key!r}")
        return self.root / key[:2] / key
