"""Dynamic batching of embedding requests from any number of callers into few forward passes.

Every request (texts, kind, deadline) goes into one bounded queue; past ``max_queue_texts`` waiting
texts a new request is refused at once (``QueueFull``: RESOURCE_EXHAUSTED / HTTP 429), so a flood
turns into quick refusals that clients retry instead of a queue that grows without end.

One batching loop on the event loop forms the batches:

- Documents: while the document worker is busy, requests pile up; when it is free, the loop waits at
  most ``max_wait_s`` after the oldest request arrived for more to come (or until ``max_batch_tokens``
  tokens are queued), takes requests up to that token budget, sorts their texts longest first (rows
  of similar length pad little) and runs ``Embedder.embed`` in the worker thread: the in-process
  embedder's document path, so stored vectors are exactly what it computes.
- Queries go at once, never behind documents: straight to ``submit_query`` where the embedder has a
  query path (MiniLM packs concurrent queries into one pass, caches recent ones and lets them overtake
  ingestion batches; the queue's hand-offs would only add latency), so a query vector is what the
  in-process query path gives; otherwise through the queue and ``embed`` on a thread of their own.

A request whose deadline has passed, or whose caller has gone (its future cancelled), is dropped when
its batch is formed, before anything is computed for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ragworks.engines.embed.base import Embedder, QueryEmbedder
from ragworks.model_service.metrics import ModelServiceMetrics

Rows = npt.NDArray[np.float32]
INLINE_MEASURE_CHARS = 2000  # requests up to this size are tokenised on the event loop (microseconds)
SPECIAL_TOKENS = 2  # [CLS] and [SEP]: what a text costs in a forward pass beyond its own tokens


class TextKind(enum.Enum):
    """Which path of the embedder a text takes."""

    DOCUMENT = "document"
    QUERY = "query"


class QueueFull(Exception):
    """The queue holds ``max_queue_texts`` texts already; retry after ``retry_after_s``."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__("the model service's queue is full; retry later")
        self.retry_after_s = retry_after_s


class DeadlineExceeded(Exception):
    """The request's deadline passed before its vectors were computed."""


class BatcherClosed(Exception):
    """The batcher is shutting down (or not started) and takes no new requests."""


@dataclass(frozen=True, slots=True)
class BatchLimits:
    """How batches are formed and how much may wait (``model_service`` settings)."""

    max_batch_tokens: int = 8192
    max_wait_s: float = 0.002
    max_queue_texts: int = 4096
    retry_after_s: int = 1


@dataclass(frozen=True, slots=True)
class Embedding:
    """The rows of one request (L2-normalised, in input order) and each text's model tokens."""

    vectors: Rows
    token_counts: list[int]


@dataclass(eq=False, slots=True)
class _Request:
    texts: list[str]
    token_counts: list[int]
    kind: TextKind
    deadline: float | None  # time.monotonic() value
    future: asyncio.Future[Embedding]
    arrived: float = field(default_factory=time.monotonic)

    def forward_tokens(self, max_tokens: int) -> list[int]:
        """Tokens each text costs in a forward pass (truncated to the model's limit)."""
        return [min(count + SPECIAL_TOKENS, max_tokens) for count in self.token_counts]


class DynamicBatcher:
    """Queues embedding requests and answers them from shared, token-budgeted forward passes."""

    def __init__(self, embedder: Embedder, limits: BatchLimits, metrics: ModelServiceMetrics) -> None:
        self.embedder = embedder
        self.limits = limits
        self.metrics = metrics
        self._queues: dict[TextKind, deque[_Request]] = {kind: deque() for kind in TextKind}
        self._queued_tokens = dict.fromkeys(TextKind, 0)
        self._queued_texts = 0  # admitted, not yet taken into a batch (reserved before tokenising)
        self._wake = asyncio.Event()
        self._document_busy = False
        self._running: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._closing = False
        self._documents_pool = ThreadPoolExecutor(1, thread_name_prefix="model-documents")
        self._queries_pool = ThreadPoolExecutor(1, thread_name_prefix="model-queries")

    async def start(self) -> None:
        """Start the batching loop (the embedder is started already)."""
        self._loop_task = asyncio.create_task(self._batching_loop(), name="model-batching-loop")

    async def embed(self, texts: Sequence[str], kind: TextKind, deadline: float | None = None) -> Embedding:
        """The vectors of ``texts``, computed with concurrent requests of the same kind.

        Args:
            texts: the texts (may be empty).
            kind: ``QUERY`` for search queries, ``DOCUMENT`` for what is stored.
            deadline: a ``time.monotonic()`` value after which nothing is computed for this request.

        Raises:
            QueueFull: ``max_queue_texts`` texts wait already (the request was not queued).
            DeadlineExceeded: the deadline passed before the vectors were computed.
            BatcherClosed: the batcher is not started or is shutting down.
        """
        if self._closing or self._loop_task is None:
            raise BatcherClosed("the model service is not accepting requests")
        if not texts:
            return Embedding(np.zeros((0, self.embedder.dimension), dtype=np.float32), [])
        self._admit(len(texts))
        try:
            counts = await self._count_tokens(texts)
        except BaseException:
            self._release(len(texts))
            raise
        if kind is TextKind.QUERY and isinstance(self.embedder, QueryEmbedder):
            return await self._query_directly(self.embedder, list(texts), counts, deadline)
        request = _Request(list(texts), counts, kind, deadline, asyncio.get_running_loop().create_future())
        self._queues[kind].append(request)
        self._queued_tokens[kind] += sum(request.forward_tokens(self.embedder.max_tokens))
        self._wake.set()
        if deadline is None:
            return await request.future
        try:
            return await asyncio.wait_for(request.future, max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            raise DeadlineExceeded("the deadline passed before the vectors were computed") from None

    async def _query_directly(
        self, embedder: QueryEmbedder, texts: list[str], counts: list[int], deadline: float | None
    ) -> Embedding:
        """Queries on an embedder with a query path skip the queue: that path packs concurrent queries
        into one pass itself, and the queue's hand-offs would only add latency to each."""
        started = time.monotonic()
        try:
            if deadline is not None and started >= deadline:
                self.metrics.dropped.labels("deadline").inc()
                raise DeadlineExceeded("the deadline passed before the vectors were computed")
            self.metrics.queue_wait.labels(TextKind.QUERY.value).observe(0.0)
            pending = asyncio.gather(*(asyncio.wrap_future(embedder.submit_query(t)) for t in texts))
            try:
                if deadline is None:
                    rows = await pending
                else:
                    rows = await asyncio.wait_for(pending, max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                raise DeadlineExceeded("the deadline passed before the vectors were computed") from None
        finally:
            self._release(len(texts))
        tokens = sum(min(c + SPECIAL_TOKENS, self.embedder.max_tokens) for c in counts)
        self.metrics.batch_texts.labels(TextKind.QUERY.value).observe(len(texts))
        self.metrics.batch_tokens.labels(TextKind.QUERY.value).observe(tokens)
        self.metrics.tokens.labels(TextKind.QUERY.value).inc(tokens)
        self.metrics.request_duration.labels(TextKind.QUERY.value).observe(time.monotonic() - started)
        return Embedding(np.vstack(rows).astype(np.float32, copy=False), counts)

    async def close(self, timeout_s: float = 30.0) -> None:
        """Refuse new requests, finish the queued and running ones (for ``timeout_s`` at most), stop."""
        self._closing = True
        until = time.monotonic() + timeout_s
        while (self._queued_texts or self._running or self._document_busy) and time.monotonic() < until:
            self._wake.set()
            await asyncio.sleep(0.01)
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
        self._documents_pool.shutdown(wait=False, cancel_futures=True)
        self._queries_pool.shutdown(wait=False, cancel_futures=True)

    @property
    def queued_texts(self) -> int:
        """Texts waiting for a batch."""
        return self._queued_texts

    def _admit(self, texts: int) -> None:
        # an empty queue takes any request, so a request larger than the bound is slow, never refused forever
        if self._queued_texts and self._queued_texts + texts > self.limits.max_queue_texts:
            self.metrics.refused.inc()
            raise QueueFull(self.limits.retry_after_s)
        self._queued_texts += texts
        self.metrics.queue_texts.set(self._queued_texts)

    def _release(self, texts: int) -> None:
        self._queued_texts -= texts
        self.metrics.queue_texts.set(self._queued_texts)

    async def _count_tokens(self, texts: Sequence[str]) -> list[int]:
        count = self.embedder.count_tokens
        if sum(len(text) for text in texts) <= INLINE_MEASURE_CHARS:
            return [count(text) for text in texts]
        return await asyncio.to_thread(lambda: [count(text) for text in texts])

    # -- the batching loop -------------------------------------------------------------------------

    async def _batching_loop(self) -> None:
        while True:
            self._wake.clear()
            if self._queues[TextKind.QUERY]:
                self._dispatch(TextKind.QUERY)
            documents = self._queues[TextKind.DOCUMENT]
            if documents and not self._document_busy:
                left = documents[0].arrived + self.limits.max_wait_s - time.monotonic()
                budget_full = self._queued_tokens[TextKind.DOCUMENT] >= self.limits.max_batch_tokens
                if left <= 0 or budget_full or self._closing:
                    self._dispatch(TextKind.DOCUMENT)
                    continue
                await self._sleep_until_woken(left)
                continue
            await self._wake.wait()

    async def _sleep_until_woken(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    def _dispatch(self, kind: TextKind) -> None:
        batch = self._take(kind)
        if not batch:
            return
        if kind is TextKind.DOCUMENT:
            self._document_busy = True
        task = asyncio.create_task(self._compute(batch, kind))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    def _take(self, kind: TextKind) -> list[_Request]:
        """Requests up to the token budget (at least one), live ones only; dropped ones are answered."""
        queue, budget, now = self._queues[kind], self.limits.max_batch_tokens, time.monotonic()
        batch: list[_Request] = []
        tokens = 0
        while queue:
            cost = sum(queue[0].forward_tokens(self.embedder.max_tokens))
            if batch and tokens + cost > budget:
                break
            request = queue.popleft()
            self._queued_tokens[kind] -= cost
            self._release(len(request.texts))
            if request.deadline is not None and now >= request.deadline:
                self._drop(request, "deadline")
            elif request.future.done():  # cancelled: the caller is gone
                self._drop(request, "cancelled")
            else:
                batch.append(request)
                tokens += cost
                self.metrics.queue_wait.labels(kind.value).observe(now - request.arrived)
        return batch

    def _drop(self, request: _Request, reason: str) -> None:
        self.metrics.dropped.labels(reason).inc()
        if not request.future.done():
            request.future.set_exception(DeadlineExceeded("the deadline passed while the request was queued"))

    async def _compute(self, batch: list[_Request], kind: TextKind) -> None:
        slots = [(request, row) for request in batch for row in range(len(request.texts))]
        lengths = [request.forward_tokens(self.embedder.max_tokens)[row] for request, row in slots]
        order = sorted(range(len(slots)), key=lambda i: -lengths[i])  # longest first: little padding
        texts = [slots[i][0].texts[slots[i][1]] for i in order]
        try:
            sorted_rows = await self._run_forward(texts, kind)
        except Exception as exc:  # the model failed: every caller of this batch hears why
            for request in batch:
                if not request.future.done():
                    request.future.set_exception(exc)
            return
        finally:
            if kind is TextKind.DOCUMENT:
                self._document_busy = False
            self._wake.set()
        rows = np.empty_like(sorted_rows)
        rows[order] = sorted_rows
        self._record(batch, kind, sum(lengths))
        start = 0
        for request in batch:
            end = start + len(request.texts)
            if not request.future.done():
                request.future.set_result(Embedding(rows[start:end], request.token_counts))
            start = end

    async def _run_forward(self, texts: list[str], kind: TextKind) -> Rows:
        loop = asyncio.get_running_loop()
        if kind is TextKind.DOCUMENT:
            return await loop.run_in_executor(self._documents_pool, self.embedder.embed, texts)
        if isinstance(self.embedder, QueryEmbedder):
            futures = [asyncio.wrap_future(self.embedder.submit_query(text)) for text in texts]
            return np.vstack(await asyncio.gather(*futures)).astype(np.float32, copy=False)
        return await loop.run_in_executor(self._queries_pool, self.embedder.embed, texts)

    def _record(self, batch: list[_Request], kind: TextKind, tokens: int) -> None:
        now = time.monotonic()
        self.metrics.batch_texts.labels(kind.value).observe(sum(len(r.texts) for r in batch))
        self.metrics.batch_tokens.labels(kind.value).observe(tokens)
        self.metrics.tokens.labels(kind.value).inc(tokens)
        for request in batch:
            self.metrics.request_duration.labels(kind.value).observe(now - request.arrived)
