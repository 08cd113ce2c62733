"""SQLAlchemy engines for the metadata store: one for writes (serialised), one for reads."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the one writer; NORMAL sync is durable across process crashes.
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (see _begin_immediate)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _begin_immediate(connection: Any) -> None:
    # Take the write lock at BEGIN so two writers never deadlock upgrading a read lock.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _begin_deferred(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN")


def is_lock_timeout(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite giving up on the write lock after ``busy_timeout`` (nothing was written)."""
    return isinstance(exc, OperationalError) and "database is locked" in str(exc)


def create_engines(url: str) -> tuple[Engine, Engine]:
    """Return (writer, reader) engines for ``url``; for SQLite the writer begins IMMEDIATE."""
    if not url.startswith("sqlite"):
        engine = create_engine(url, pool_pre_ping=True)
        return engine, engine
    writer = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
    reader = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
    for engine, begin in ((writer, _begin_immediate), (reader, _begin_deferred)):
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", begin)
    return writer, reader
