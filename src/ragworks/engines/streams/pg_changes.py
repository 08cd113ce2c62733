"""Changes of an application's own PostgreSQL table as a stream (read only): a trigger captures them.

URL: the application's database (``postgresql://...`` or ``postgresql+psycopg://...``); the stream is
the table (``name`` or ``schema.name``), which must have a primary key.

``start()`` installs, idempotently, in the connection's current schema:

- ``ragworks_changes``: one row per captured change (``id`` bigserial, ``table_name`` as
  ``schema.table``, ``op`` insert/update/delete, ``row_key``, ``row_data`` jsonb, ``captured_at``);
- an ``AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW`` trigger on the table that writes there (the old
  row for a delete) and NOTIFYs ``ragworks_changes`` at commit;
- ``ragworks_change_claims``: one row per (group, change) delivered to the group and not yet below
  the group's floor; ``ragworks_change_floors``: per (group, table), the id through which every change
  is acknowledged.

Why claims and not an offset per group: ids come from a sequence when a row is written, but
transactions commit in any order, so id 7 may be visible before id 5 is; an offset at 7 would skip 5
for ever. Each change is claimed for a group instead, atomically (``INSERT ... ON CONFLICT DO UPDATE
... WHERE`` the existing claim is not acknowledged and has been pending past ``redeliver_after_s``, or
belongs to this consumer after its restart), so whatever commits late is still unclaimed and is
delivered by the next fetch. ``ack`` marks the claims acknowledged. Changes of one row are delivered in
commit order: a writer waits for the row's lock, so its change takes an id only after the previous
change of that row has committed.

The floor keeps fetches from scanning all history: the trigger holds a shared advisory lock (per table)
to the end of its transaction, and ``ack`` raises the group's floor to just below its first
unacknowledged change only when it gets that lock exclusively without waiting, i.e. when no transaction
that captured a change of the table is open, so no change below a visible one can still appear. The
acknowledged claims below the floor are then deleted. Captured changes themselves are kept (a group
started later reads the table's history from the start); delete old ``ragworks_changes`` rows that every
group has passed to reclaim the space.

Messages: value = JSON of the row with ``"op"`` added; key = the primary key as text (one column) or a
JSON array of texts (several); headers ``op`` and ``table``; position = the change id.
Extra option ``backfill`` (default true): the first start captures the table's existing rows as inserts,
in the same transaction that creates the trigger (the table is locked against writers meanwhile), so no
row is missed or captured twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql

from ragworks.engines.streams.base import SourceOptions, StreamMessage, StreamUnavailable

CHANNEL = "ragworks_changes"
TRIGGER = "ragworks_capture"
# the longest a fetch sleeps between claims: expired claims of dead consumers send no notification
POLL_S = 0.5

_SCHEMA = """
SELECT pg_advisory_xact_lock(hashtext('ragworks_changes'));
CREATE TABLE IF NOT EXISTS {changes} (
    id bigserial PRIMARY KEY,
    table_name text NOT NULL,
    op text NOT NULL CHECK (op IN ('insert', 'update', 'delete')),
    row_key text NOT NULL,
    row_data jsonb NOT NULL,
    captured_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS ragworks_changes_by_table ON {changes} (table_name, id);
CREATE TABLE IF NOT EXISTS {claims} (
    group_name text NOT NULL,
    change_id bigint NOT NULL,
    consumer text NOT NULL,
    claimed_at timestamptz NOT NULL,
    deliveries integer NOT NULL DEFAULT 1,
    acked boolean NOT NULL DEFAULT false,
    PRIMARY KEY (group_name, change_id)
);
CREATE TABLE IF NOT EXISTS {floors} (
    group_name text NOT NULL,
    table_name text NOT NULL,
    acked_through bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (group_name, table_name)
);
CREATE OR REPLACE FUNCTION {key_function}(r jsonb, columns text[]) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    -- a trigger's TG_ARGV is numbered from 0
    SELECT CASE WHEN cardinality(columns) = 1 THEN r ->> columns[array_lower(columns, 1)]
           ELSE (SELECT jsonb_agg(r ->> c ORDER BY i)::text FROM unnest(columns) WITH ORDINALITY AS u(c, i))
           END
$$;
CREATE OR REPLACE FUNCTION {capture_function}() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    r jsonb;
    qualified text := TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME;
BEGIN
    IF TG_OP = 'DELETE' THEN r := to_jsonb(OLD); ELSE r := to_jsonb(NEW); END IF;
    -- held to the end of the transaction: while it is, no group's floor moves past this table's ids
    PERFORM pg_advisory_xact_lock_shared(hashtext('ragworks_changes'), hashtext(qualified));
    INSERT INTO {changes} (table_name, op, row_key, row_data)
    VALUES (qualified, lower(TG_OP), {key_function}(r, TG_ARGV), r);
    PERFORM pg_notify('ragworks_changes', qualified);
    RETURN NULL;
END
$$;
"""

_CLAIM = """
WITH candidates AS (
    SELECT c.id FROM {changes} c
    WHERE c.table_name = %(table)s
      AND c.id > coalesce(
        (SELECT f.acked_through FROM {floors} f WHERE f.group_name = %(group)s AND f.table_name = %(table)s), 0)
      AND NOT EXISTS (
        SELECT 1 FROM {claims} k
        WHERE k.group_name = %(group)s AND k.change_id = c.id
          AND (k.acked OR NOT ((%(recovering)s AND k.consumer = %(consumer)s)
                               OR k.claimed_at <= now() - make_interval(secs => %(redeliver_s)s))))
    ORDER BY c.id
    LIMIT %(limit)s
), claimed AS (
    INSERT INTO {claims} AS k (group_name, change_id, consumer, claimed_at)
    SELECT %(group)s, id, %(consumer)s, clock_timestamp() FROM candidates
    ON CONFLICT (group_name, change_id) DO UPDATE
        SET consumer = excluded.consumer, claimed_at = excluded.claimed_at, deliveries = k.deliveries + 1
        WHERE NOT k.acked AND ((%(recovering)s AND k.consumer = excluded.consumer)
                               OR k.claimed_at <= now() - make_interval(secs => %(redeliver_s)s))
    RETURNING k.change_id, k.deliveries
)
SELECT c.id, c.op, c.row_key, c.row_data, claimed.deliveries
FROM claimed JOIN {changes} c ON c.id = claimed.change_id
ORDER BY c.id
"""

# Moves the group's floor up to just before its first unacknowledged change of the table, and drops
# the claims below it. Run only while no transaction that captured a change of the table is open (the
# exclusive advisory lock was free): then no change below a visible one can still appear.
_ADVANCE = """
WITH current AS (
    SELECT coalesce((SELECT acked_through FROM {floors} WHERE group_name = %(group)s AND table_name = %(table)s), 0)
        AS through
), first_open AS (
    SELECT min(c.id) AS id FROM {changes} c, current
    WHERE c.table_name = %(table)s AND c.id > current.through
      AND NOT EXISTS (
        SELECT 1 FROM {claims} k WHERE k.group_name = %(group)s AND k.change_id = c.id AND k.acked)
), newest AS (
    SELECT max(c.id) AS id FROM {changes} c, current WHERE c.table_name = %(table)s AND c.id > current.through
), saved AS (
    INSERT INTO {floors} AS f (group_name, table_name, acked_through)
    SELECT %(group)s, %(table)s, coalesce(first_open.id - 1, newest.id, current.through)
    FROM first_open, newest, current
    ON CONFLICT (group_name, table_name) DO UPDATE
        SET acked_through = greatest(f.acked_through, excluded.acked_through)
    RETURNING f.acked_through
)
DELETE FROM {claims} k USING saved, {changes} c
WHERE k.group_name = %(group)s AND k.change_id = c.id AND c.table_name = %(table)s
  AND k.change_id <= saved.acked_through
"""

_LAG = """
SELECT count(*) FROM {changes} c
WHERE c.table_name = %(table)s
  AND c.id > coalesce(
    (SELECT f.acked_through FROM {floors} f WHERE f.group_name = %(group)s AND f.table_name = %(table)s), 0)
  AND NOT EXISTS (SELECT 1 FROM {claims} k WHERE k.group_name = %(group)s AND k.change_id = c.id)
"""

_CAPTURING = "SELECT pg_advisory_xact_lock_shared(hashtext('ragworks_changes'), hashtext(%s))"
_NOT_CAPTURING = "SELECT pg_try_advisory_xact_lock(hashtext('ragworks_changes'), hashtext(%s))"

_PRIMARY_KEY = """
SELECT a.attname FROM pg_index i
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
WHERE i.indrelid = %(table)s::regclass AND i.indisprimary
ORDER BY array_position(i.indkey::int2[], a.attnum)
"""


def conninfo(url: str) -> str:
    """A libpq URL from a SQLAlchemy-style one (``postgresql+psycopg://`` -> ``postgresql://``)."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.split("+", 1)[0] not in ("postgresql", "postgres"):
        raise ValueError(f"not a PostgreSQL URL: {url!r}")
    return f"postgresql://{rest}"


class TableChangeSource:
    """A consumer, in a named group, of the changes captured from one table."""

    def __init__(self, url: str, stream: str, options: SourceOptions) -> None:
        self.stream = stream
        self.options = options
        self._conninfo = conninfo(url)
        self._backfill = bool(options.extra.get("backfill", True))
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._listener: psycopg.AsyncConnection[Any] | None = None
        self._table = ""  # schema.table, as the trigger records it
        self._names: dict[str, sql.Composable] = {}
        # the first fetch after start takes back this consumer's unacknowledged claims at once
        self._recovering = True

    async def start(self) -> None:
        """Install the capture table, claims table and trigger (backfilling on first install); LISTEN."""
        try:
            self._conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
            self._listener = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
            await self._install(self._conn)
            await self._listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
        except psycopg.OperationalError as exc:
            await self.close()
            raise StreamUnavailable(f"PostgreSQL change feed of {self.stream}: {exc}") from exc
        except BaseException:
            await self.close()
            raise
        self._recovering = True

    async def _install(self, conn: psycopg.AsyncConnection[Any]) -> None:
        row = await (await conn.execute("SELECT current_schema()")).fetchone()
        if row is None or row[0] is None:
            raise ValueError("the connection has no current schema to install the change tables in")
        schema = str(row[0])
        self._names = {
            "changes": sql.Identifier(schema, "ragworks_changes"),
            "claims": sql.Identifier(schema, "ragworks_change_claims"),
            "floors": sql.Identifier(schema, "ragworks_change_floors"),
            "key_function": sql.Identifier(schema, "ragworks_change_key"),
            "capture_function": sql.Identifier(schema, "ragworks_capture_change"),
        }
        async with conn.transaction():
            await conn.execute(sql.SQL(_SCHEMA).format(**self._names))
            cursor = await conn.execute(
                "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE c.oid = %s::regclass",
                (self.stream,),
            )
            found = await cursor.fetchone()
            if found is None:  # pragma: no cover - ::regclass raises first
                raise ValueError(f"no table {self.stream!r}")
            table = sql.Identifier(found[0], found[1])
            self._table = f"{found[0]}.{found[1]}"
            columns = [
                r[0] for r in await (await conn.execute(_PRIMARY_KEY, {"table": self._table})).fetchall()
            ]
            if not columns:
                raise ValueError(f"table {self._table} has no primary key: changes need one for their key")
            # writers wait while the trigger is installed and the rows are copied: none is missed or doubled
            await conn.execute(sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(table))
            cursor = await conn.execute(
                "SELECT 1 FROM pg_trigger WHERE tgrelid = %s::regclass AND tgname = %s",
                (self._table, TRIGGER),
            )
            first_install = await cursor.fetchone() is None
            await conn.execute(
                sql.SQL(
                    "CREATE OR REPLACE TRIGGER {trigger} AFTER INSERT OR UPDATE OR DELETE ON {table}"
                    " FOR EACH ROW EXECUTE FUNCTION {function}({columns})"
                ).format(
                    trigger=sql.Identifier(TRIGGER),
                    table=table,
                    function=self._names["capture_function"],
                    columns=sql.SQL(", ").join(sql.Literal(column) for column in columns),
                )
            )
            if first_install and self._backfill:
                await conn.execute(_CAPTURING, (self._table,))
                await conn.execute(
                    sql.SQL(
                        "INSERT INTO {changes} (table_name, op, row_key, row_data)"
                        " SELECT %(name)s, 'insert', {key_function}(to_jsonb(t), %(columns)s), to_jsonb(t)"
                        " FROM {table} t ORDER BY {order}"
                    ).format(
                        table=table,
                        order=sql.SQL(", ").join(sql.Identifier(column) for column in columns),
                        **self._names,
                    ),
                    {"name": self._table, "columns": columns},
                )

    async def fetch(self, limit: int, wait_s: float) -> list[StreamMessage]:
        """Claim up to ``limit`` changes for this group in id order, waiting up to ``wait_s``."""
        deadline = time.monotonic() + wait_s
        while True:
            messages = await self._claim(limit)
            remaining = deadline - time.monotonic()
            if messages or remaining <= 0:
                return messages
            await self._wait_for_change(min(remaining, POLL_S))

    async def _claim(self, limit: int) -> list[StreamMessage]:
        conn = self._started()
        parameters = {
            "table": self._table,
            "group": self.options.group,
            "consumer": self.options.consumer,
            "recovering": self._recovering,
            "redeliver_s": float(self.options.redeliver_after_s),
            "limit": limit,
        }
        try:
            cursor = await conn.execute(sql.SQL(_CLAIM).format(**self._names), parameters)
            rows = await cursor.fetchall()
        except psycopg.OperationalError as exc:
            raise StreamUnavailable(f"PostgreSQL change feed of {self._table}: {exc}") from exc
        self._recovering = False
        return [self._message(*row) for row in rows]

    def _message(self, change_id: int, op: str, row_key: str, row: Any, deliveries: int) -> StreamMessage:
        value = json.dumps({**row, "op": op}, ensure_ascii=False).encode()
        return StreamMessage(
            stream=self.stream,
            value=value,
            key=row_key.encode(),
            headers={"op": op, "table": self._table},
            position=str(change_id),
            deliveries=deliveries,
            receipt=change_id,
        )

    async def _wait_for_change(self, timeout_s: float) -> None:
        """Return at the first notification of a change (of any table) or after ``timeout_s``."""
        if self._listener is None:
            raise RuntimeError("TableChangeSource.start() was not called")
        try:
            async for _ in self._listener.notifies(timeout=timeout_s, stop_after=1):
                pass
        except psycopg.OperationalError as exc:
            raise StreamUnavailable(f"PostgreSQL change feed of {self._table}: {exc}") from exc

    async def ack(self, messages: Sequence[StreamMessage]) -> None:
        """Mark the group's claims of these changes acknowledged."""
        if not messages:
            return
        conn = self._started()
        statement = sql.SQL(
            "UPDATE {claims} SET acked = true WHERE group_name = %s AND change_id = ANY(%s)"
        ).format(**self._names)
        try:
            await conn.execute(statement, (self.options.group, [int(str(m.receipt)) for m in messages]))
            await self._advance_floor(conn)
        except psycopg.OperationalError as exc:
            raise StreamUnavailable(f"PostgreSQL change feed of {self._table}: {exc}") from exc

    async def _advance_floor(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Raise the group's floor when no capturing transaction is open (else next time): fetches scan
        only the changes above it, and the claims below it are dropped."""
        async with conn.transaction():
            free = await (await conn.execute(_NOT_CAPTURING, (self._table,))).fetchone()
            if free and free[0]:
                parameters = {"table": self._table, "group": self.options.group}
                await conn.execute(sql.SQL(_ADVANCE).format(**self._names), parameters)

    async def lag(self) -> int | None:
        """Changes of the table never yet delivered to this group."""
        conn = self._started()
        try:
            cursor = await conn.execute(
                sql.SQL(_LAG).format(**self._names), {"table": self._table, "group": self.options.group}
            )
            row = await cursor.fetchone()
        except psycopg.OperationalError as exc:
            raise StreamUnavailable(f"PostgreSQL change feed of {self._table}: {exc}") from exc
        return int(row[0]) if row else 0

    async def close(self) -> None:
        """Disconnect; unacknowledged claims are taken back after ``redeliver_after_s`` or at restart."""
        for conn in (self._conn, self._listener):
            if conn is not None:
                await conn.close()
        self._conn = self._listener = None

    def _started(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None:
            raise RuntimeError("TableChangeSource.start() was not called")
        return self._conn
