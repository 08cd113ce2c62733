"""The outbox contract on both SQL queues: events are written in the transaction of each outcome."""

from __future__ import annotations

import pytest

from helpers.postgres import PostgresStores
from helpers.store import SqliteStores
from ragworks.engines.queue.sql_events import SqlEventLog
from ragworks.engines.store.sql import SqlDatabase
from ragworks.testing.queue_outbox_contract import OutboxTest


class TestSqliteOutbox(SqliteStores, OutboxTest):
    """Events in a real SQLite file."""

    @pytest.fixture
    def events(self, db: SqlDatabase) -> SqlEventLog:
        return SqlEventLog(db)


class TestPostgresOutbox(PostgresStores, OutboxTest):
    """Events on a fresh database of the session's PostgreSQL server (a BIGSERIAL id)."""

    @pytest.fixture
    def events(self, db: SqlDatabase) -> SqlEventLog:
        return SqlEventLog(db)
