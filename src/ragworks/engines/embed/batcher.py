"""Micro-batching: single items submitted by concurrent callers are processed together.

A worker thread takes everything that is waiting (up to ``max_items`` items and ``max_cost`` cost)
and runs one call of ``process`` for all of it; items that arrive while that call runs form the next
batch, or go to another worker when there are several. Nothing waits for a batch to fill: a lone item
goes at once, so batching costs nothing at low load, and under load one forward pass serves many
queries (see "Where retrieval time goes" in docs/benchmarks.md).

Callers get a ``Future``, so they can do other work (the keyword leg) while their item is processed.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

import numpy as np
import numpy.typing as npt

T = TypeVar("T")
Rows = npt.NDArray[np.float32]


class MicroBatcher(Generic[T]):
    """Runs ``process(items) -> rows`` (one row per item, in order) on batches of submitted items."""

    def __init__(
        self,
        process: Callable[[Sequence[T]], Rows],
        *,
        max_items: int = 16,
        max_cost: int = 0,
        cost: Callable[[T], int] = lambda _item: 1,
        workers: int = 1,
        on_start: Callable[[], None] | None = None,
        name: str = "micro-batcher",
    ) -> None:
        """``max_cost`` 0 means no limit; ``on_start`` runs first in each worker thread (per-thread
        settings such as torch's thread count)."""
        if max_items < 1 or workers < 1:
            raise ValueError("max_items and workers must be at least 1")
        self._process = process
        self._max_items = max_items
        self._max_cost = max_cost
        self._cost = cost
        self._workers = workers
        self._on_start = on_start
        self._name = name
        self._waiting: deque[tuple[T, Future[Rows]]] = deque()
        self._condition = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._started: list[threading.Event] = []
        self._closed = False
        self.batches = 0  # batches and items processed, for tests and benchmarks
        self.items = 0

    def start(self) -> None:
        """Start the workers now rather than on the first ``submit``; returns once each ran ``on_start``."""
        with self._condition:
            self._start_workers()
            started = list(self._started)
        for event in started:
            event.wait()

    def submit(self, item: T) -> Future[Rows]:
        """Queue ``item``; the future's result is its row."""
        future: Future[Rows] = Future()
        with self._condition:
            if self._closed:
                raise RuntimeError(f"{self._name} is closed")
            self._waiting.append((item, future))
            self._start_workers()
            self._condition.notify()
        return future

    def close(self) -> None:
        """Finish what is queued, then stop the workers."""
        with self._condition:
            self._closed = True
            threads = list(self._threads)
            self._condition.notify_all()
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join()

    def _start_workers(self) -> None:  # with the condition held
        if self._threads or self._closed:
            return
        for number in range(self._workers):
            started = threading.Event()
            thread = threading.Thread(
                target=self._run, args=(started,), name=f"{self._name}-{number}", daemon=True
            )
            self._threads.append(thread)
            self._started.append(started)
            thread.start()

    def _take(self) -> list[tuple[T, Future[Rows]]] | None:
        with self._condition:
            while not self._waiting and not self._closed:
                self._condition.wait()
            if not self._waiting:
                return None
            batch = [self._waiting.popleft()]
            total = self._cost(batch[0][0])
            while self._waiting and len(batch) < self._max_items:
                cost = self._cost(self._waiting[0][0])
                if self._max_cost and total + cost > self._max_cost:
                    break
                batch.append(self._waiting.popleft())
                total += cost
            return batch

    def _run(self, started: threading.Event) -> None:
        try:
            if self._on_start is not None:
                self._on_start()
        finally:
            started.set()
        while (batch := self._take()) is not None:
            live = [(item, future) for item, future in batch if future.set_running_or_notify_cancel()]
            if not live:
                continue
            try:
                rows = self._process([item for item, _ in live])
                if len(rows) != len(live):
                    raise RuntimeError(f"{self._name}: {len(rows)} rows for {len(live)} items")
            except BaseException as exc:  # every waiting caller learns what went wrong
                for _, future in live:
                    future.set_exception(exc)
                continue
            with self._condition:
                self.batches += 1
                self.items += len(live)
            for (_, future), row in zip(live, rows, strict=True):
                future.set_result(row)
