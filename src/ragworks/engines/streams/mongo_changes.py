"""Changes of a MongoDB collection as a stream (read only), from a change stream (pymongo's async API).

URL: a replica-set (or sharded) ``mongodb://`` URL naming the database (change streams need a replica
set); the stream is the collection. Messages: value = the document after the change
(``fullDocument: updateLookup``) as relaxed extended JSON with ``"op"`` added (insert, update for
updates and replacements, delete: then only ``_id``); key = ``str(_id)``; headers ``op`` and
``collection``; position = the change's resume token.

Delivery: the group's resume token is kept in the database's ``ragworks_resume_tokens`` collection
(``_id = "<group>:<collection>"``) and moved only past changes that were acknowledged, in order (the
token after the longest acknowledged run), so a restart resumes after the last change that was fully
acknowledged and delivers the rest again. A group new to the collection starts at the change stream's
present (its first token is stored at once, so changes after the first start are never missed); the
past beyond the oplog cannot be read. A change stream is not shared out among consumers: every consumer
of a group reads every change, so a group has one consumer. A fetched change left unacknowledged past
``redeliver_after_s`` is delivered again by ``fetch`` (kept in this process).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from ragworks.engines.streams.base import SourceOptions, StreamMessage, StreamUnavailable

TOKENS = "ragworks_resume_tokens"
OPS = {"insert": "insert", "update": "update", "replace": "update", "delete": "delete"}
AWAIT_MS = 200  # how long one getMore waits on the server for a change


@dataclass(slots=True)
class _Pending:
    """A change read from the stream: delivered (``message`` set) or nothing to deliver (None)."""

    token: Mapping[str, Any]
    message: StreamMessage | None
    delivered_at: float
    acked: bool = False


def _pymongo_errors() -> tuple[type[BaseException], ...]:
    from pymongo.errors import PyMongoError

    return (PyMongoError,)


class ChangeStreamSource:
    """The one consumer of a group reading one collection's change stream."""

    def __init__(self, url: str, stream: str, options: SourceOptions) -> None:
        if urlsplit(url).scheme not in ("mongodb", "mongodb+srv"):
            raise ValueError(f"not a MongoDB URL: {url!r}")
        self.url, self.stream, self.options = url, stream, options
        self._client: Any = None
        self._changes: Any = None
        self._tokens: Any = None
        self._token_id = f"{options.group}:{stream}"
        self._pending: list[_Pending] = []
        self._sequence = 0

    async def start(self) -> None:
        """Open the change stream after the group's stored token (or now, storing that token)."""
        try:
            from pymongo import AsyncMongoClient
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise ImportError("the MongoDB change feed needs pymongo: install ragworks[mongo]") from exc
        self._client = AsyncMongoClient(self.url)
        try:
            database = self._client.get_default_database()
            self._tokens = database[TOKENS]
            stored = await self._tokens.find_one({"_id": self._token_id})
            self._changes = await database[self.stream].watch(
                full_document="updateLookup",
                resume_after=stored["token"] if stored else None,
                max_await_time_ms=AWAIT_MS,
            )
            if stored is None and self._changes.resume_token is not None:
                await self._store_token(self._changes.resume_token)
        except _pymongo_errors() as exc:
            await self.close()
            raise StreamUnavailable(f"MongoDB change stream of {self.stream}: {exc}") from exc
        except BaseException:
            await self.close()
            raise

    async def fetch(self, limit: int, wait_s: float) -> list[StreamMessage]:
        """Own changes pending past ``redeliver_after_s``, then new ones, waiting up to ``wait_s``."""
        if self._changes is None:
            raise RuntimeError("ChangeStreamSource.start() was not called")
        messages = self._overdue(limit)
        deadline = time.monotonic() + wait_s
        try:
            while len(messages) < limit:
                change = await self._changes.try_next()
                if change is not None:
                    message = self._message(change)
                    self._pending.append(_Pending(change["_id"], message, time.monotonic(), message is None))
                    if message is not None:
                        messages.append(message)
                elif messages or time.monotonic() >= deadline:
                    break
        except _pymongo_errors() as exc:
            raise StreamUnavailable(f"MongoDB change stream of {self.stream}: {exc}") from exc
        return messages

    def _message(self, change: Mapping[str, Any]) -> StreamMessage | None:
        """The message of a document change; None for what is not one (drop, rename: nothing to index)."""
        from bson import json_util

        op = OPS.get(str(change.get("operationType")))
        if change.get("operationType") == "invalidate":
            raise StreamUnavailable(
                f"the change stream of {self.stream} was invalidated (dropped or renamed)"
            )
        if op is None:
            return None
        document_id = change["documentKey"]["_id"]
        document = change.get("fullDocument") if op != "delete" else None
        if document is None:
            # a delete, or an update whose document was deleted before the lookup (its delete follows)
            document = {"_id": document_id}
        self._sequence += 1
        return StreamMessage(
            stream=self.stream,
            value=json_util.dumps(
                {**document, "op": op}, json_options=json_util.RELAXED_JSON_OPTIONS
            ).encode(),
            key=str(document_id).encode(),
            headers={"op": op, "collection": self.stream},
            position=str(change["_id"].get("_data", change["_id"])),
            receipt=self._sequence,
        )

    def _overdue(self, limit: int) -> list[StreamMessage]:
        now, due = time.monotonic(), list[StreamMessage]()
        for entry in self._pending:
            if len(due) >= limit:
                break
            message = entry.message
            if (
                message is not None
                and not entry.acked
                and now - entry.delivered_at >= self.options.redeliver_after_s
            ):
                entry.message = replace(message, deliveries=message.deliveries + 1)
                entry.delivered_at = now
                due.append(entry.message)
        return due

    async def ack(self, messages: Sequence[StreamMessage]) -> None:
        """Mark changes acknowledged and store the token after the longest acknowledged run."""
        receipts = {m.receipt for m in messages}
        for entry in self._pending:
            if entry.message is not None and entry.message.receipt in receipts:
                entry.acked = True
        done = 0
        while done < len(self._pending) and self._pending[done].acked:
            done += 1
        if done == 0:
            return
        try:
            await self._store_token(self._pending[done - 1].token)
        except _pymongo_errors() as exc:
            raise StreamUnavailable(f"MongoDB resume token of {self.stream}: {exc}") from exc
        del self._pending[:done]

    async def _store_token(self, token: Mapping[str, Any]) -> None:
        await self._tokens.update_one(
            {"_id": self._token_id}, {"$set": {"token": token, "updated_at": time.time()}}, upsert=True
        )

    async def lag(self) -> int | None:
        """Unknown: a change stream does not say how far behind it is."""
        return None

    async def close(self) -> None:
        """Close the change stream and the client; unacknowledged changes come again after a restart."""
        changes, client = self._changes, self._client
        self._changes = self._client = self._tokens = None
        self._pending.clear()
        if changes is not None:
            await changes.close()
        if client is not None:
            await client.close()
