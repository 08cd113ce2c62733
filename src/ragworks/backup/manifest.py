"""The manifest of a backup archive: where it came from, what it holds, and a checksum per file."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ragworks.errors import RagworksError

MANIFEST_NAME = "manifest.json"
FORMAT: Literal[1] = 1  # raised when the archive's layout changes; restore refuses formats it does not know
DATABASE_NAME = "ragworks.db"  # the embedded store's file (config.Settings.database_url), in the archive too
_READ_BYTES = 1 << 20


class BackupError(RagworksError):
    """An archive that cannot be restored as it is: damaged, tampered with, or of an unknown format."""

    status_code = 422
    code = "invalid_backup"


class FileEntry(BaseModel):
    """One file of the archive, by its path inside it (``/``-separated, relative)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class CollectionCounts(BaseModel):
    """One collection as the database snapshot holds it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    documents: dict[str, int]  # by status: ready, pending, failed, ...
    chunks: int = Field(ge=0, description="Chunks searches see (active versions of live documents).")
    dimension: int | None = Field(None, description="Vector length of its chunks; None when it has none.")


class Manifest(BaseModel):
    """Everything restore needs to check an archive before it trusts a byte of it."""

    model_config = ConfigDict(extra="forbid")

    format: Literal[1] = FORMAT
    ragworks_version: str
    created_at: str  # ISO 8601, UTC
    source: str  # the data dir it was taken from, for the operator's eyes only
    migration_revision: str | None
    index: Literal["copied", "rebuild"] = Field(
        description="'copied': the index files were copied while no process used the data dir; "
        "'rebuild': the data dir was in use, so restore rebuilds the index from the chunks table."
    )
    collections: list[CollectionCounts]
    missing_blobs: list[str] = Field(
        default_factory=list,
        description="Uploads unfinished jobs refer to that could not be copied (their jobs will fail).",
    )
    files: list[FileEntry]

    def to_json(self) -> bytes:
        """The manifest as the archive stores it."""
        return self.model_dump_json(indent=2).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        """Parse a manifest read from an archive; raises BackupError if it is not one this version knows."""
        try:
            return cls.model_validate_json(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "manifest"
            raise BackupError(f"the archive's manifest is not valid: {where}: {first['msg']}") from None


def file_entry(path: Path, relative: str) -> FileEntry:
    """The manifest entry of the file at ``path``, stored as ``relative``."""
    digest, size = sha256_of(path)
    return FileEntry(path=relative, size=size, sha256=digest)


def sha256_of(path: Path) -> tuple[str, int]:
    """SHA-256 hex digest and size of a file, read in bounded pieces."""
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while piece := handle.read(_READ_BYTES):
            digest.update(piece)
            size += len(piece)
    return digest.hexdigest(), size
