"""Backup and restore of a data dir built through the store adapters (SQLite, tantivy, usearch; no model)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from backup.conftest import COLLECTION, PENDING_TEXT, SourceDir, restored_settings
from ragworks.backup.create import create_backup
from ragworks.backup.lock import idle_data_dir
from ragworks.backup.manifest import DATABASE_NAME
from ragworks.backup.progress import Quiet
from ragworks.backup.restore import restore_backup
from ragworks.domain import JobKind, JobStatus
from ragworks.engines.index.local import LocalSearchIndex
from ragworks.engines.store.schema import jobs
from ragworks.errors import Conflict
from ragworks.testing.builders import DIMENSION


def _index_keys(data_dir: Path) -> set[int]:
    index = LocalSearchIndex(data_dir / "index", DIMENSION)
    index.start()
    try:
        return index.keys(COLLECTION)
    finally:
        index.close()


@pytest.mark.usefixtures("in_use")
def test_a_data_dir_in_use_is_archived_without_its_index(source: SourceDir, tmp_path: Path) -> None:
    manifest = create_backup(source.settings, tmp_path / "b.tar.gz")
    assert manifest.index == "rebuild"
    assert not any(entry.path.startswith("index/") for entry in manifest.files)
    (counts,) = manifest.collections
    assert counts.chunks == 3
    assert counts.dimension == DIMENSION
    assert counts.documents == {"queued": 1, "ready": 1}


@pytest.mark.usefixtures("in_use")
def test_restore_rebuilds_the_index_from_the_chunks(source: SourceDir, tmp_path: Path) -> None:
    create_backup(source.settings, tmp_path / "b.tar.gz")
    report = restore_backup(tmp_path / "b.tar.gz", restored_settings(tmp_path / "new"))
    assert report.index[COLLECTION].added == 3
    assert _index_keys(tmp_path / "new") == source.served


def test_an_idle_data_dir_is_archived_with_its_index_which_restore_uses(
    source: SourceDir, tmp_path: Path
) -> None:
    index = LocalSearchIndex(source.settings.index_dir, DIMENSION)
    index.start()
    index.add(COLLECTION, list(source.stores.chunks.index_entries(source.served, DIMENSION)))
    index.commit()
    index.close()
    manifest = create_backup(source.settings, tmp_path / "b.tar.gz")
    assert manifest.index == "copied"
    report = restore_backup(tmp_path / "b.tar.gz", restored_settings(tmp_path / "new"))
    assert (report.index[COLLECTION].added, report.index[COLLECTION].removed) == (0, 0)
    assert _index_keys(tmp_path / "new") == source.served


def test_the_upload_a_waiting_job_needs_is_restored(source: SourceDir, tmp_path: Path) -> None:
    manifest = create_backup(source.settings, tmp_path / "b.tar.gz")
    restore_backup(tmp_path / "b.tar.gz", restored_settings(tmp_path / "new"))
    key = source.pending_blob
    assert f"blobs/{key[:2]}/{key}" in {entry.path for entry in manifest.files}
    assert (tmp_path / "new" / "blobs" / key[:2] / key).read_bytes() == PENDING_TEXT


class _ServerFinishesTheJob(Quiet):
    """Plays the server between the first database snapshot and the copy of the uploads: the waiting
    ingest job succeeds and its upload is deleted, as ``DocumentJobs.on_finished`` does."""

    def __init__(self, source: SourceDir) -> None:
        self.source = source
        self.snapshots = 0

    def stage(self, description: str, total: int | None = None) -> None:
        del total  # the stages' sizes do not matter here
        if description.startswith("copying the database"):
            self.snapshots += 1
        if description == "copying uploads" and self.snapshots == 1:
            queue = self.source.stores.queue
            for job in queue.lease("server", [JobKind.INGEST], 10, 30.0):
                assert queue.complete("server", job.id, {})
            (
                self.source.data_dir / "blobs" / self.source.pending_blob[:2] / self.source.pending_blob
            ).unlink()


def test_an_upload_freed_during_the_backup_makes_it_snapshot_again(source: SourceDir, tmp_path: Path) -> None:
    server = _ServerFinishesTheJob(source)
    manifest = create_backup(source.settings, tmp_path / "b.tar.gz", server)
    assert server.snapshots == 2
    assert manifest.missing_blobs == []
    restore_backup(tmp_path / "b.tar.gz", restored_settings(tmp_path / "new"))
    statuses = _job_statuses(tmp_path / "new" / DATABASE_NAME)
    assert statuses == {JobStatus.SUCCEEDED}


def _job_statuses(database: Path) -> set[str]:
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as conn:
            return set(conn.execute(select(jobs.c.status)).scalars())
    finally:
        engine.dispose()


class _Warnings(Quiet):
    def __init__(self) -> None:
        self.messages: list[str] = []

    def warn(self, message: str) -> None:
        self.messages.append(message)


def test_an_upload_lost_for_good_is_recorded_and_reported(source: SourceDir, tmp_path: Path) -> None:
    key = source.pending_blob
    (source.data_dir / "blobs" / key[:2] / key).unlink()
    warnings = _Warnings()
    manifest = create_backup(source.settings, tmp_path / "b.tar.gz", warnings)
    assert manifest.missing_blobs == [key]
    assert any(key in message for message in warnings.messages)


def test_a_backup_never_overwrites_a_file(source: SourceDir, tmp_path: Path) -> None:
    (tmp_path / "b.tar.gz").write_bytes(b"precious")
    with pytest.raises(Conflict, match="already exists"):
        create_backup(source.settings, tmp_path / "b.tar.gz")
    assert (tmp_path / "b.tar.gz").read_bytes() == b"precious"


def test_restore_refuses_a_data_dir_that_is_not_empty(source: SourceDir, tmp_path: Path) -> None:
    create_backup(source.settings, tmp_path / "b.tar.gz")
    target = tmp_path / "new"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(Conflict, match="not empty"):
        restore_backup(tmp_path / "b.tar.gz", restored_settings(target))
    assert sorted(p.name for p in target.iterdir() if p.name != ".lock") == ["notes.txt"]


def test_force_replaces_the_database_index_and_uploads_only(source: SourceDir, tmp_path: Path) -> None:
    create_backup(source.settings, tmp_path / "b.tar.gz")
    target = tmp_path / "new"
    (target / "logs").mkdir(parents=True)
    (target / "logs" / "requests.jsonl").write_text("{}\n")
    (target / f"{DATABASE_NAME}-wal").write_bytes(b"a stale write-ahead log")
    report = restore_backup(tmp_path / "b.tar.gz", restored_settings(target), force=True)
    assert report.collections[0].chunks == 3
    assert (target / "logs" / "requests.jsonl").read_text() == "{}\n"
    wal = target / f"{DATABASE_NAME}-wal"
    assert not wal.exists() or b"stale" not in wal.read_bytes()


def test_restore_refuses_a_data_dir_in_use(source: SourceDir, tmp_path: Path) -> None:
    create_backup(source.settings, tmp_path / "b.tar.gz")
    target = tmp_path / "new"
    target.mkdir()
    with idle_data_dir(target) as idle:
        assert idle
        with pytest.raises(Conflict, match="is using"):
            restore_backup(tmp_path / "b.tar.gz", restored_settings(target))
