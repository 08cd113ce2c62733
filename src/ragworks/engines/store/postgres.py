"""The scaled profile's database: PostgreSQL through psycopg 3, shared by the store, chunks and jobs.

The SQL of ``SqlMetadataStore``, ``SqlChunkStore`` and ``SqlJobQueue`` runs here unchanged; what differs
from SQLite lives in this module: one pooled engine (PostgreSQL has no single writer lock), row-level
concurrency made safe by advisory locks on the documents a write transaction reads before it writes,
transient failures mapped to ``Busy`` and an unreachable server to ``NotReady``, and text PostgreSQL
cannot store made storable on its way out.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from ragworks.engines.store.migrate import migrate
from ragworks.engines.store.pg_driver import StrDumperUnknown, psycopg
from ragworks.engines.store.sql import SqlDatabase
from ragworks.engines.store.text import storable_json, storable_text
from ragworks.errors import BadRequest, Busy, NotReady

# SQLSTATEs of failures that left nothing written and pass when retried: serialization failure,
# deadlock, lock timeout, too many connections, statement timeout.
BUSY_STATES = {"40001", "40P01", "55P03", "53300", "57014"}
# SQLSTATE classes and codes that mean the server cannot be used now: connection exceptions,
# insufficient resources, shutdown / cannot connect now, unknown database, failed authentication.
UNREACHABLE_CLASSES = {"08", "53", "3D", "28"}
UNREACHABLE_STATES = {"57P01", "57P02", "57P03", "57P04", "57P05"}
# A value longer than its column or out of its type's range: the input's fault (SQLite stores it).
TOO_LARGE_STATES = {"22001", "22003"}


class StorableTextDumper(StrDumperUnknown):
    """psycopg's default str dumper, after removing what PostgreSQL text cannot hold."""

    def dump(self, obj: str) -> bytes | bytearray | memoryview | None:
        """The text, NUL characters removed and unpaired surrogates replaced."""
        return super().dump(storable_text(obj))


def _storable_json(value: Any) -> str:
    return json.dumps(storable_json(value))


def _on_connect(lock_timeout_ms: int, dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.adapters.register_dumper(str, StorableTextDumper)
    with dbapi_connection.cursor() as cursor:
        # a write that waits longer than this for a row lock gives up with 55P03 (Busy)
        cursor.execute(f"SET lock_timeout = {lock_timeout_ms}")
    dbapi_connection.commit()


def translate_error(context: Any) -> None:
    """Raise ``Busy`` for transient failures, ``NotReady`` when the server cannot be reached and
    ``BadRequest`` for a value too long or too large for its column."""
    error = context.original_exception
    state = getattr(error, "sqlstate", None) or ""
    if state in BUSY_STATES:
        raise Busy(
            f"the database is busy ({type(error).__name__}); nothing was changed, retry shortly"
        ) from error
    connection_failed = isinstance(error, psycopg.OperationalError) and not state
    if (
        connection_failed
        or context.is_disconnect
        or state[:2] in UNREACHABLE_CLASSES
        or state in UNREACHABLE_STATES
    ):
        raise NotReady("the database cannot be reached; retry shortly") from error
    if state in TOO_LARGE_STATES:
        raise BadRequest(f"a value does not fit the database: {error}") from error


def create_postgres_engine(url: str, lock_timeout_s: float) -> Engine:
    """A pooled engine for ``url`` (``postgresql+psycopg://``) with the error and text handling above."""
    engine = create_engine(url, pool_pre_ping=True, json_serializer=_storable_json)
    lock_timeout_ms = max(1, int(lock_timeout_s * 1000))
    event.listen(engine, "connect", lambda conn, record: _on_connect(lock_timeout_ms, conn, record))
    event.listen(engine, "handle_error", translate_error)
    return engine


# Volatile functions run after the ORDER BY, so the locks are taken in key order: no deadlock between
# two transactions locking overlapping sets.
_LOCK_DOCUMENTS = text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k ORDER BY k")


def document_lock_keys(keys: Sequence[tuple[str, str]]) -> list[int]:
    """Sorted, distinct advisory-lock keys (signed 64-bit) of (collection, document id) pairs."""
    found = set()
    for collection, document_id in keys:
        digest = hashlib.blake2b(
            f"{collection}\x1f{document_id}".encode(errors="surrogatepass"), digest_size=8
        )
        found.add(int.from_bytes(digest.digest(), "big", signed=True))
    return sorted(found)


class PostgresDatabase(SqlDatabase):
    """The store's database on PostgreSQL: one engine for reads and writes, migrated at start."""

    def start(self) -> None:
        """Create the engine and migrate the schema (one process at a time, see ``migrate``)."""
        engine = create_postgres_engine(self.url, self.lock_timeout_s)
        self._engines = (engine, engine)
        try:
            migrate(engine)
        except BaseException:
            engine.dispose()
            self._engines = None
            raise

    def lock_documents(self, conn: Connection, keys: Sequence[tuple[str, str]]) -> None:
        """Hold transaction-scoped locks on these documents, so writers that read a document before
        writing it take turns (SQLite gets the same from its one write lock)."""
        wanted = document_lock_keys(keys)
        if wanted:
            conn.execute(_LOCK_DOCUMENTS, {"keys": wanted})

    @property
    def conninfo(self) -> str:
        """The libpq connection string of this database (for connections outside the pool)."""
        return make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False)
