"""The usage recorder: takes finished requests from the event loop and, in its own thread, writes the
request log, aggregates rollups and adds them to the database every ``flush_interval_s``.

The event loop only appends a small object to a bounded deque, without a lock or a wake-up (the thread
looks every ``POLL_S``; a flush wakes it at once); JSON, disk and the database are this thread's work.
When the thread falls behind by ``max_pending`` requests, new ones are dropped (and counted) rather
than held without bound.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ragworks.usage.base import UsageRollups
from ragworks.usage.context import RequestFacts
from ragworks.usage.records import BodyFacts, RequestRecord, facts_from_bodies
from ragworks.usage.rollup import UsageAggregator

if TYPE_CHECKING:
    # (the middleware imports this module: the observability package must not be imported back)
    from ragworks.observability.request_log import RotatingLineFile

log = logging.getLogger(__name__)
_BATCH = 2000
POLL_S = 0.2  # how often the thread looks for finished requests: waking it per request costs CPU


@dataclass(slots=True)
class FinishedRequest:
    """What the middleware knows when a request ends (cheap to build: no parsing, no copies)."""

    ts: float
    request_id: str
    method: str
    route: str
    status: int
    duration_ms: float
    service: str | None
    path_collection: str | None
    facts: RequestFacts
    request_body: list[bytes] | None = None
    response_body: list[bytes] | None = None


class _Flush:
    """Asks the thread to write everything before it, then sets ``done``."""

    def __init__(self, stop: bool) -> None:
        self.stop = stop
        self.done = threading.Event()


class UsageRecorder:
    """One per API process: ``start()``, ``submit()`` per request, ``stop()`` (which flushes)."""

    def __init__(
        self,
        log_file: RotatingLineFile | None,
        rollups: UsageRollups | None,
        *,
        flush_interval_s: float = 10.0,
        query_max_chars: int = 200,
        max_pending: int = 100_000,
    ) -> None:
        self.log_file = log_file
        self.rollups = rollups
        self.flush_interval_s = flush_interval_s
        self.query_max_chars = query_max_chars
        self.aggregator = UsageAggregator(query_max_chars=query_max_chars)
        self.dropped = 0
        self.max_pending = max_pending
        self._pending: deque[FinishedRequest | _Flush] = deque()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the writer thread."""
        self._thread = threading.Thread(target=self._run, name="ragworks-usage", daemon=True)
        self._thread.start()

    def submit(self, request: FinishedRequest) -> None:
        """Hand a finished request over (never blocks: dropped and counted when the queue is full)."""
        if len(self._pending) >= self.max_pending:
            self.dropped += 1
        else:
            self._pending.append(request)  # atomic; the thread picks it up within POLL_S

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Write everything submitted so far to the log and the database; False if it took too long.
        Blocks: call it from a thread, not the event loop."""
        return self._ask(_Flush(stop=False), timeout_s)

    def stop(self, timeout_s: float = 30.0) -> None:
        """Flush and end the thread (blocks, like ``flush``)."""
        if self._thread is None:
            return
        self._ask(_Flush(stop=True), timeout_s)
        self._thread.join(timeout_s)
        self._thread = None
        if self.log_file is not None:
            self.log_file.close()

    def _ask(self, request: _Flush, timeout_s: float) -> bool:
        self._pending.append(request)  # control messages are never dropped
        self._wake.set()
        return request.done.wait(timeout_s)

    def _run(self) -> None:
        next_flush = time.monotonic() + self.flush_interval_s
        while True:
            items = self._take(timeout_s=max(0.0, min(0.5, next_flush - time.monotonic())))
            finished = [i for i in items if isinstance(i, FinishedRequest)]
            if finished:
                self._record(finished)
            controls = [i for i in items if isinstance(i, _Flush)]
            if controls or time.monotonic() >= next_flush:
                self._write_rollups()
                next_flush = time.monotonic() + self.flush_interval_s
            for control in controls:
                control.done.set()
            if any(c.stop for c in controls):
                return

    def _take(self, timeout_s: float) -> list[FinishedRequest | _Flush]:
        if not self._pending:
            self._wake.wait(min(timeout_s, POLL_S))
            self._wake.clear()
        items: list[FinishedRequest | _Flush] = []
        while self._pending and len(items) < _BATCH:
            items.append(self._pending.popleft())
            if isinstance(items[-1], _Flush):
                break
        return items

    def _record(self, finished: list[FinishedRequest]) -> None:
        records = [self.to_record(f) for f in finished]
        if self.log_file is not None:
            try:
                self.log_file.write_lines([r.to_line() for r in records])
            except OSError:
                log.exception("cannot write the request log", extra={"path": str(self.log_file.path)})
        self.aggregator.add_all(records)

    def _write_rollups(self) -> None:
        if self.rollups is None:
            self.aggregator.drain()
            return
        batch = self.aggregator.drain()
        if not batch:
            return
        try:
            self.rollups.add(batch)
        except Exception:
            # kept and added with the next batch: a busy or unreachable database loses no counts
            self.aggregator.restore(batch)
            log.warning("cannot add usage rollups yet; retrying at the next flush", exc_info=True)

    def to_record(self, request: FinishedRequest) -> RequestRecord:
        """The log record of a finished request: what its handler noted first, then what its route and
        JSON bodies say."""
        facts = request.facts
        noted = facts.query is not None
        body = BodyFacts()
        # the bodies are parsed only for what the handler did not note (a retrieve notes everything)
        if (not noted or (facts.collections is None and request.path_collection is None)) and (
            request.request_body or request.response_body
        ):
            body = facts_from_bodies(_joined(request.request_body), _joined(request.response_body))
        if facts.collections is not None:
            collections = facts.collections
        elif request.path_collection is not None:
            collections = (request.path_collection,)
        else:
            collections = body.collections
        query = facts.query if noted else body.query
        return RequestRecord(
            ts=request.ts,
            request_id=request.request_id,
            method=request.method,
            route=request.route,
            status=request.status,
            duration_ms=request.duration_ms,
            service=facts.service or request.service,
            collections=collections,
            api_key=facts.api_key,
            query=query[: self.query_max_chars] if query is not None else None,
            result_count=facts.result_count if noted else body.result_count,
        )


def _joined(chunks: list[bytes] | None) -> bytes | None:
    return b"".join(chunks) if chunks else None
