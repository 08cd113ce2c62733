"""Schema migrations through Alembic, run at start-up."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# PostgreSQL: processes starting together (API and worker replicas) migrate one at a time; the lock is
# held until the migration's transaction ends. The number is arbitrary but fixed ("ragworks").
_MIGRATION_LOCK = 0x7261_6777_6F72_6B73


def migrate(engine: Engine) -> None:
    """Upgrade the database behind ``engine`` to the newest schema."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
