"""A store lock timeout under overload is a 503 ``busy`` the client can retry, never a 500."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from ragworks.api.errors import install_error_handlers
from ragworks.engines.store.engine import create_engines
from ragworks.errors import Busy


def test_the_engine_raises_busy_when_the_write_lock_times_out(tmp_path: Path) -> None:
    database = tmp_path / "locked.db"
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    writer, reader = create_engines(f"sqlite:///{database}", lock_timeout_s=0.05)
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/write")
    def write() -> None:
        with writer.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))

    try:
        with pytest.raises(Busy):
            write()
        response = TestClient(app, raise_server_exceptions=False).post("/write")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        writer.dispose()
        reader.dispose()
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json()["error"]["code"] == "busy"
