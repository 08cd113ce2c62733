"""The commands' own behaviour: which profile they serve, and what they print."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from backup.conftest import COLLECTION, SourceDir
from ragworks.cli.main import app

WIDE = {"COLUMNS": "200"}  # rich wraps output to the terminal width


@pytest.mark.parametrize("command", ["backup", "restore"])
def test_a_postgresql_store_is_pointed_to_pg_dump(command: str, tmp_path: Path) -> None:
    env = {**WIDE, "RAGWORKS_STORE__URL": "postgresql+psycopg://ragworks@127.0.0.1:5432/ragworks"}
    result = CliRunner().invoke(
        app, [command, str(tmp_path / "b.tar.gz"), "--data-dir", str(tmp_path)], env=env
    )
    assert result.exit_code == 2
    assert "pg_dump" in result.output
    assert not (tmp_path / "b.tar.gz").exists()


def test_backup_and_restore_print_the_counts(source: SourceDir, tmp_path: Path) -> None:
    archive = str(tmp_path / "b.tar.gz")
    backup = CliRunner().invoke(app, ["backup", archive, "--data-dir", str(source.data_dir)], env=WIDE)
    assert backup.exit_code == 0, backup.output
    restore = CliRunner().invoke(app, ["restore", archive, "--data-dir", str(tmp_path / "new")], env=WIDE)
    assert restore.exit_code == 0, restore.output
    for output in (backup.output, restore.output):
        row = next(line for line in output.splitlines() if COLLECTION in line)
        assert [cell.strip() for cell in row.split("│")[1:5]] == [
            COLLECTION,
            "1",
            "2",
            "3",
        ]  # ready, documents, chunks
    assert "index: 3 chunks rebuilt from the database" in restore.output


def test_restore_of_a_missing_archive_is_a_clear_error(tmp_path: Path) -> None:
    args = ["restore", str(tmp_path / "none.tar.gz"), "--data-dir", str(tmp_path / "new")]
    result = CliRunner().invoke(app, args, env=WIDE)
    assert result.exit_code == 1
    assert "no backup at" in result.output
