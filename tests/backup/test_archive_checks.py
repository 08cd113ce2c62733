"""Restore trusts nothing in an archive before it is checked, and leaves the data dir as it found it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from backup.conftest import Members, SourceDir, restored_settings
from ragworks.backup.create import create_backup
from ragworks.backup.manifest import DATABASE_NAME, MANIFEST_NAME, BackupError
from ragworks.backup.restore import restore_backup

Repack = Callable[[Path, Callable[[Members], Members]], Path]


@pytest.fixture
def archive(source: SourceDir, tmp_path: Path) -> Path:
    create_backup(source.settings, tmp_path / "b.tar.gz")
    return tmp_path / "b.tar.gz"


def _refused(archive: Path, target: Path, match: str) -> None:
    with pytest.raises(BackupError, match=match):
        restore_backup(archive, restored_settings(target))
    assert [p.name for p in target.iterdir() if p.name != ".lock"] == []  # nothing half-restored


def _manifest(members: Members) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(members[MANIFEST_NAME])
    return loaded


def test_a_corrupted_archive_is_refused(archive: Path, tmp_path: Path) -> None:
    data = bytearray(archive.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    archive.write_bytes(bytes(data))
    _refused(archive, tmp_path / "new", "damaged")


def test_a_truncated_archive_is_refused(archive: Path, tmp_path: Path) -> None:
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    _refused(archive, tmp_path / "new", "is damaged")


def test_a_file_changed_inside_the_archive_fails_its_checksum(
    archive: Path, repack: Repack, tmp_path: Path
) -> None:
    def flip_a_byte(members: Members) -> Members:
        database = bytearray(members[DATABASE_NAME])
        database[-1] ^= 0xFF
        return {**members, DATABASE_NAME: bytes(database)}

    _refused(repack(archive, flip_a_byte), tmp_path / "new", f"checksum mismatch for {DATABASE_NAME}")


def test_a_file_the_manifest_does_not_list_is_refused(archive: Path, repack: Repack, tmp_path: Path) -> None:
    changed = repack(archive, lambda members: {**members, "index/extra": b"x"})
    _refused(changed, tmp_path / "new", "does not list: index/extra")


def test_a_listed_file_that_is_absent_is_refused(archive: Path, repack: Repack, tmp_path: Path) -> None:
    changed = repack(
        archive, lambda members: {k: v for k, v in members.items() if not k.startswith("blobs/")}
    )
    _refused(changed, tmp_path / "new", "lacks 1 file")


def test_a_manifest_path_outside_the_data_dir_is_refused(
    archive: Path, repack: Repack, tmp_path: Path
) -> None:
    def escape(members: Members) -> Members:
        manifest = _manifest(members)
        files = manifest["files"]
        assert isinstance(files, list)
        files.append({"path": "../outside", "size": 1, "sha256": "0" * 64})
        return {**members, MANIFEST_NAME: json.dumps(manifest).encode(), "../outside": b"x"}

    _refused(repack(archive, escape), tmp_path / "new", "will not write: '../outside'")
    assert not (tmp_path / "outside").exists()


def test_an_archive_without_a_manifest_is_not_a_backup(archive: Path, repack: Repack, tmp_path: Path) -> None:
    changed = repack(archive, lambda members: {k: v for k, v in members.items() if k != MANIFEST_NAME})
    _refused(changed, tmp_path / "new", "does not begin with its manifest")


def test_a_database_of_a_newer_schema_is_refused(archive: Path, repack: Repack, tmp_path: Path) -> None:
    def newer(members: Members) -> Members:
        manifest = _manifest(members)
        manifest["migration_revision"] = "9999"
        return {**members, MANIFEST_NAME: json.dumps(manifest).encode()}

    _refused(repack(archive, newer), tmp_path / "new", "schema revision 9999")
