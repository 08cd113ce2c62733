"""index.provider picks the adapter; the PostgreSQL index lives in the store's database unless told."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragworks.config import Settings
from ragworks.engines.index.local import LocalSearchIndex
from ragworks.engines.index.postgres import PostgresSearchIndex
from ragworks.engines.index.providers import build_index


def test_local_is_the_default(tmp_path: Path) -> None:
    assert isinstance(build_index(Settings(data_dir=tmp_path), 8), LocalSearchIndex)


def test_postgres_uses_the_store_database(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    settings.store.url = "postgresql+psycopg://u:p@127.0.0.1:5432/ragworks"
    settings.index.provider = "postgres"

    index = build_index(settings, 8)

    assert isinstance(index, PostgresSearchIndex)
    assert index._url.database == "ragworks"


def test_postgres_needs_a_postgres_database(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    settings.index.provider = "postgres"

    with pytest.raises(ValueError, match="needs a PostgreSQL index.url or store.url"):
        build_index(settings, 8)
