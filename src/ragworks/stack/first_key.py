"""The first admin key of a stack whose API asks for keys: made once, kept in ``<data_dir>/admin.key``.

A stack started by ``ragworks up`` runs its own PostgreSQL with a generated password, so an operator
could not easily reach its database with ``ragworks keys create`` before the first request. ``up``
therefore makes one admin key when the API will ask for keys and no active admin key exists, and
writes it beside ``postgres.password`` (mode 0600). More keys are made with that key
(``POST /v1/admin/keys``) or with ``ragworks keys`` and the stack's settings.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ragworks.config import Settings

KEY_FILE = "admin.key"


def ensure_admin_key(settings: Settings) -> Path | None:
    """Make and save an admin key unless auth is off or an active one exists; returns the key file
    when one was written. Runs after the API is ready (so the database is migrated)."""
    if settings.auth.enabled is False:
        return None
    from ragworks.auth.admin import KeyAdmin, KeyRequest
    from ragworks.auth.wiring import key_store_for
    from ragworks.engines.store.providers import build_store

    stores = build_store(settings)
    stores.database.start()
    try:
        admin = KeyAdmin(key_store_for(stores))
        now = time.time()
        if any(key.tenant is None and key.state(now) == "active" for key in admin.list()):
            return None
        _, secret = admin.create(KeyRequest("first admin key (ragworks up)", admin=True))
    finally:
        stores.database.close()
    path = settings.data_dir / KEY_FILE
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secret + "\n")
    return path
