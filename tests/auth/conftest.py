"""Fixtures: a key store on a real SQLite file, a KeyAdmin on it, the asyncio backend, and a real app
with auth on (shared by the package) with an admin key."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from ragworks.app import create_app
from ragworks.auth.admin import KeyAdmin, KeyRequest
from ragworks.auth.wiring import key_store_for
from ragworks.config import AuthSettings, LLMSettings, Settings
from ragworks.engines.store.sql import SqlDatabase
from ragworks.engines.store.sql_keys import SqlKeyStore


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def key_store(db: SqlDatabase) -> SqlKeyStore:
    """API keys in a migrated SQLite database of the test's own."""
    return SqlKeyStore(db)


@pytest.fixture
def keys(key_store: SqlKeyStore) -> KeyAdmin:
    """Key use-cases on ``key_store``."""
    return KeyAdmin(key_store)


@pytest.fixture(scope="package")
def app_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One started app with auth on (no cache: a revoked key fails at once) for the package."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("auth-data"),
        log_json=False,
        llm=LLMSettings(provider="extractive"),  # these tests need no model
        auth=AuthSettings(enabled=True, cache_ttl_s=0),
    )
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="package")
def app_keys(app_client: TestClient) -> KeyAdmin:
    """Key use-cases on the app's own database (as `ragworks keys` would open it)."""
    container = app_client.app.state.container  # type: ignore[attr-defined]
    return KeyAdmin(key_store_for(container.core.stores))


@pytest.fixture(scope="package")
def admin_key(app_keys: KeyAdmin) -> str:
    """A full admin key of the app."""
    return app_keys.create(KeyRequest("ops", admin=True))[1]
