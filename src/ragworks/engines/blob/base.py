"""The BlobStore port: uploaded bytes kept durably until their job no longer needs them."""

from __future__ import annotations

from typing import Protocol


class BlobStore(Protocol):
    """Content-addressed storage (keys are SHA-256 hex digests)."""

    def put(self, data: bytes) -> str:
        """Store ``data`` durably (fsync'd before returning); returns its SHA-256 hex key.

        Raises:
            DiskFull: no room for it; nothing is left behind.
        """

    def get(self, key: str) -> bytes:
        """The bytes stored under ``key``.

        Raises:
            NotFound: nothing is stored under ``key``.
        """

    def delete(self, key: str) -> None:
        """Remove ``key``; missing keys are ignored."""
