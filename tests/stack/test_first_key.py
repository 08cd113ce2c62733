"""`ragworks up` makes the first admin key of a stack whose API asks for keys, once."""

from __future__ import annotations

import stat
from pathlib import Path

from ragworks.auth.admin import KeyAdmin
from ragworks.auth.keys import parse_key
from ragworks.auth.wiring import key_store_for
from ragworks.config import AuthSettings, Settings
from ragworks.engines.store.providers import build_store
from ragworks.stack.first_key import ensure_admin_key


def stored_keys(settings: Settings) -> KeyAdmin:
    stores = build_store(settings)
    stores.database.start()
    return KeyAdmin(key_store_for(stores))


def test_the_first_key_is_an_admin_key_saved_for_the_owner_only(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)

    path = ensure_admin_key(settings)

    assert path == tmp_path / "admin.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    parsed = parse_key(path.read_text().strip())
    assert parsed is not None
    [key] = stored_keys(settings).list()
    assert key.id == parsed[0] and key.tenant is None and "admin" in key.scopes


def test_a_second_start_makes_no_other_key(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    ensure_admin_key(settings)

    assert ensure_admin_key(settings) is None
    assert len(stored_keys(settings).list()) == 1


def test_no_key_is_made_when_auth_is_off(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, auth=AuthSettings(enabled=False))

    assert ensure_admin_key(settings) is None
    assert not (tmp_path / "admin.key").exists()
