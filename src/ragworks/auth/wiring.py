"""Builds the auth parts of a serving process from its container: the key store and the verifier."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ragworks.auth.base import KeyStore
from ragworks.auth.verifier import KeyVerifier

if TYPE_CHECKING:
    from ragworks.container import Container
    from ragworks.engines.store.providers import StoreEngines


def auth_enabled(container: Container) -> bool:
    """``auth.enabled`` when set; unset, on for the scaled profile's API and off for ``ragworks serve``.

    The role is told by ``run_jobs``: ``ragworks serve`` always runs the jobs in its own process and the
    API of the scaled profile never does. ``exclusive`` would be the wrong signal: it is also False for
    ``ragworks serve`` on a shared PostgreSQL, which is still one person's local server.
    """
    configured = container.settings.auth.enabled
    return configured if configured is not None else not container.run_jobs


def key_store_for(stores: StoreEngines) -> KeyStore:
    """The keys in the database of ``stores`` (every store ragworks has is SQL)."""
    from ragworks.engines.store.sql import SqlDatabase
    from ragworks.engines.store.sql_keys import SqlKeyStore

    database = stores.database
    if not isinstance(database, SqlDatabase):
        raise TypeError(f"API keys need a SQL store, not {type(database).__name__}")
    return SqlKeyStore(database)


def key_verifier(container: Container) -> KeyVerifier | None:
    """The verifier of the app on ``container``; None when auth is off (every caller is LOCAL)."""
    if not auth_enabled(container):
        return None
    return KeyVerifier(key_store_for(container.core.stores), container.settings.auth.cache_ttl_s)
