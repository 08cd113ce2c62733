"""When auth is on: the setting when given, else by the process role (nothing connects here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragworks.auth.wiring import auth_enabled, key_verifier
from ragworks.config import AuthSettings, Settings
from ragworks.roles.api import build_api
from ragworks.roles.embedded import build_embedded


def shared_settings(data_dir: Path, enabled: bool | None = None) -> Settings:
    """Settings of the scaled profile (a shared PostgreSQL store and index)."""
    settings = Settings(data_dir=data_dir, auth=AuthSettings(enabled=enabled))
    settings.store.url = "postgresql+psycopg://u:p@127.0.0.1:5432/ragworks"
    settings.index.provider = "postgres"
    return settings


def test_unset_it_is_off_for_ragworks_serve_even_on_a_shared_database(tmp_path: Path) -> None:
    assert auth_enabled(build_embedded(Settings(data_dir=tmp_path))) is False
    assert auth_enabled(build_embedded(shared_settings(tmp_path))) is False
    assert key_verifier(build_embedded(Settings(data_dir=tmp_path))) is None


def test_unset_it_is_on_for_the_scaled_api(tmp_path: Path) -> None:
    container = build_api(shared_settings(tmp_path))

    assert auth_enabled(container) is True
    assert key_verifier(container) is not None


@pytest.mark.parametrize("enabled", [True, False])
def test_the_setting_wins_over_the_role(tmp_path: Path, enabled: bool) -> None:
    embedded = build_embedded(Settings(data_dir=tmp_path, auth=AuthSettings(enabled=enabled)))
    api = build_api(shared_settings(tmp_path, enabled))

    assert auth_enabled(embedded) is enabled
    assert auth_enabled(api) is enabled
