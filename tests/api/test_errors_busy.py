"""A store lock timeout under overload is a 503 ``busy`` the client can retry, never a 500."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from ragworks.api.errors import install_error_handlers


def test_a_lock_timeout_is_a_503_busy_with_retry_after(tmp_path: Path) -> None:
    database = tmp_path / "locked.db"
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    engine = create_engine(f"sqlite:///{database}", connect_args={"timeout": 0.05})
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/write")
    def write() -> None:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))

    try:
        response = TestClient(app, raise_server_exceptions=False).post("/write")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        engine.dispose()
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json()["error"]["code"] == "busy"
