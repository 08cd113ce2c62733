"""The Alembic migrations build exactly the schema the code declares."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from ragworks.engines.store.migrate import MIGRATIONS_DIR
from ragworks.engines.store.schema import metadata
from ragworks.engines.store.sql import SqlDatabase


def test_migrated_database_matches_the_schema(tmp_path: Path) -> None:
    db = SqlDatabase(f"sqlite:///{tmp_path / 'db.sqlite'}")
    db.start()
    try:
        with db.reader.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        db.close()
    assert differences == []


def test_migrating_twice_is_harmless(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    for _ in range(2):
        db = SqlDatabase(url)
        db.start()
        with db.reader.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        db.close()
        assert versions == [ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()]
