"""SQLAlchemy engines for the metadata store: one for writes (serialised), one for reads."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError

from ragworks.errors import Busy, DiskFull


def _sqlite_pragmas(lock_timeout_ms: int, dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the one writer; NORMAL sync is durable across process crashes.
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (see _begin_immediate)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={lock_timeout_ms}")
    cursor.close()


def _begin_immediate(connection: Any) -> None:
    # Take the write lock at BEGIN so two writers never deadlock upgrading a read lock.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _begin_deferred(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN")


def is_lock_timeout(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite giving up on the write lock after ``busy_timeout`` (nothing was written)."""
    return isinstance(exc, OperationalError) and "database is locked" in str(exc)


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite unable to grow its files (SQLITE_FULL: the transaction rolled back)."""
    return isinstance(exc, OperationalError) and "database or disk is full" in str(exc)


def _raise_expected(context: Any) -> None:
    # Overload or a full disk, not a bug: the transaction rolled back and the caller may retry.
    if is_lock_timeout(context.sqlalchemy_exception):
        raise Busy("the store is busy with other writes; nothing was changed, retry shortly") from None
    if is_disk_full(context.sqlalchemy_exception):
        raise DiskFull("the data disk is full; nothing was changed, free space and retry") from None


def create_engines(url: str, lock_timeout_s: float = 30.0) -> tuple[Engine, Engine]:
    """Return (writer, reader) engines for ``url``; for SQLite the writer begins IMMEDIATE and waits up
    to ``lock_timeout_s`` for the write lock before raising ``Busy``."""
    if not url.startswith("sqlite"):
        engine = create_engine(url, pool_pre_ping=True)
        return engine, engine
    connect_args = {"check_same_thread": False, "timeout": lock_timeout_s}
    writer = create_engine(url, connect_args=connect_args)
    reader = create_engine(url, connect_args=connect_args)
    pragmas = functools.partial(_sqlite_pragmas, int(lock_timeout_s * 1000))
    for engine, begin in ((writer, _begin_immediate), (reader, _begin_deferred)):
        event.listen(engine, "connect", pragmas)
        event.listen(engine, "begin", begin)
        event.listen(engine, "handle_error", _raise_expected)
    return writer, reader
