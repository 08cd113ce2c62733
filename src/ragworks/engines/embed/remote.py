"""``embed.provider = "remote"``: the embedder of a ``ragworks model-serve`` process, over gRPC.

One channel per embedder (one per process), shared by every thread: gRPC channels are thread-safe and
multiplex calls. Every call has a deadline: documents ``embed.timeout_s`` per call of at most
``embed.batch_texts`` texts, queries and token counts ``embed.query_timeout_s``. Calls are never
queued waiting for a service that is down (no ``wait_for_ready`` after start): they fail at once with
``EmbedderUnavailable`` (503), so a search answers quickly and an ingest job fails this attempt and
retries with backoff. The channel reconnects on its own, at most ``MAX_RECONNECT_BACKOFF_MS`` apart.

Token counts of the bundled MiniLM are computed here from its tokenizer (``identity.py``); other
models' come from the service's CountTokens, remembered in an LRU cache.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

import numpy as np
import numpy.typing as npt

from ragworks.engines.embed.identity import ModelIdentity, check_served, local_counter_for
from ragworks.errors import EmbedderUnavailable, InvalidInput, NotReady

log = logging.getLogger(__name__)

Vector = npt.NDArray[np.float32]

IN_FLIGHT = 2  # document calls of one embed() outstanding at once: one computes while one is sent
TOKEN_CACHE = 8192  # token counts remembered (texts the chunker asks about again)
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
MAX_RECONNECT_BACKOFF_MS = 1000  # a restarted service is found again within about a second
STARTING_RETRY_S = 0.2  # wait between Info calls while the service loads its model
BUSY_RETRY_S = 0.05  # first wait after RESOURCE_EXHAUSTED (the service's queue is full), doubled


class RemoteEmbedder:
    """An Embedder and QueryEmbedder whose model runs in a ``ragworks model-serve`` process."""

    def __init__(
        self,
        target: str,
        identity: ModelIdentity,
        *,
        timeout_s: float = 30.0,
        query_timeout_s: float = 2.0,
        batch_texts: int = 64,
        count_locally: bool = True,
    ) -> None:
        self.target = target
        self.identity = identity
        self.name = identity.name
        self.dimension = identity.dimension
        self.max_tokens = identity.max_tokens
        self.languages = identity.languages
        self.timeout_s = timeout_s
        self.query_timeout_s = query_timeout_s
        self.batch_texts = batch_texts
        self.served_languages: frozenset[str] = frozenset()
        self._channel: Any = None
        self._stub: Any = None
        self._pb: Any = None
        # False: ask the service even for MiniLM (its tokenizer is the reference)
        self._local = local_counter_for(identity.name) if count_locally else None
        self._counts: OrderedDict[str, int] = OrderedDict()
        self._counts_lock = threading.Lock()

    def start(self) -> None:
        """Open the channel and wait (up to ``timeout_s``) for the service to describe its model.

        Raises:
            EmbedderUnavailable: the service did not answer in time.
            RuntimeError: it serves another model than this process is configured for.
        """
        try:
            import grpc

            from ragworks.model_service import model_pb2, model_pb2_grpc
        except ImportError as exc:  # pragma: no cover - the extra is part of dev installs
            raise RuntimeError("embed.provider = 'remote' needs: pip install 'ragworks[model]'") from exc
        self._pb = model_pb2
        self._channel = grpc.insecure_channel(
            self.target,
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                ("grpc.initial_reconnect_backoff_ms", 100),
                ("grpc.min_reconnect_backoff_ms", 100),
                ("grpc.max_reconnect_backoff_ms", MAX_RECONNECT_BACKOFF_MS),
                ("grpc.enable_retries", 0),
            ],
        )
        self._stub = model_pb2_grpc.ModelServiceStub(self._channel)  # type: ignore[no-untyped-call]
        info = self._describe(time.monotonic() + self.timeout_s)
        check_served(self.identity, info.model, info.dimension, f"the model service at {self.target}")
        self.served_languages = frozenset(info.languages)
        if self.served_languages != self.languages:  # only hybrid weighting depends on it: go on
            log.warning(
                "the model service's languages differ from embed.languages",
                extra={"served": sorted(self.served_languages), "configured": sorted(self.languages)},
            )

    def _describe(self, deadline: float) -> Any:
        """The service's Info, asked again until ``deadline`` while it is unreachable or still loading
        its model (UNAVAILABLE); ``wait_for_ready`` holds each try until the channel connects."""
        import grpc

        pb = self._pb
        while True:
            remaining = deadline - time.monotonic()
            try:
                return self._stub.Info(pb.InfoRequest(), timeout=max(remaining, 0.01), wait_for_ready=True)
            except grpc.RpcError as exc:
                retryable = exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
                if not retryable or time.monotonic() + STARTING_RETRY_S >= deadline:
                    raise self._error(exc, "describing its model") from exc
            time.sleep(STARTING_RETRY_S)  # the service answered UNAVAILABLE: its model is loading

    def close(self) -> None:
        """Close the channel (calls in flight fail)."""
        if self._channel is not None:
            self._channel.close()
            self._channel, self._stub = None, None

    def embed(self, texts: Sequence[str]) -> Vector:
        """Embed documents, ``batch_texts`` per call with up to ``IN_FLIGHT`` calls outstanding.

        Raises:
            EmbedderUnavailable: the service is down, overloaded past the deadline, or too slow.
        """
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        parts = [list(texts[i : i + self.batch_texts]) for i in range(0, len(texts), self.batch_texts)]
        for first in range(0, len(parts), IN_FLIGHT):
            window = parts[first : first + IN_FLIGHT]
            calls = [self._embed_part(part) for part in window]
            row = first * self.batch_texts
            for part, call in zip(window, calls, strict=True):
                out[row : row + len(part)] = call.result()
                row += len(part)
        return out

    def submit_query(self, text: str) -> Future[Vector]:
        """Start embedding one query; the future raises ``EmbedderUnavailable`` past the deadline."""
        stub, pb = self._ready()
        request = pb.EmbedRequest(texts=[text], kind=pb.TEXT_KIND_QUERY)
        rows: Future[Vector] = Future()
        call = stub.Embed.future(request, timeout=self.query_timeout_s)
        call.add_done_callback(lambda done: self._settle(done, rows, 1, "embedding a query"))
        vector: Future[Vector] = Future()
        rows.add_done_callback(lambda done: _first_row(done, vector))
        vector.add_done_callback(lambda done: call.cancel() if done.cancelled() else None)
        return vector

    def count_tokens(self, text: str) -> int:
        """Model tokens of ``text``: locally for MiniLM, else the service's count (cached)."""
        if self._local is not None:
            return self._local.count(text)
        with self._counts_lock:
            cached = self._counts.get(text)
            if cached is not None:
                self._counts.move_to_end(text)
                return cached
        import grpc

        stub, pb = self._ready()
        try:
            reply = stub.CountTokens(pb.CountTokensRequest(texts=[text]), timeout=self.query_timeout_s)
        except grpc.RpcError as exc:
            raise self._error(exc, "counting tokens") from exc
        count = int(reply.counts[0])
        with self._counts_lock:
            self._counts[text] = count
            while len(self._counts) > TOKEN_CACHE:
                self._counts.popitem(last=False)
        return count

    # helpers -----------------------------------------------------------------------------------

    def _ready(self) -> tuple[Any, Any]:
        if self._stub is None:
            raise NotReady("the remote embedder is not started")
        return self._stub, self._pb

    def _embed_part(self, texts: list[str]) -> Future[Vector]:
        """One document call; RESOURCE_EXHAUSTED (the service's queue is full) is retried until the
        deadline, with a doubling wait."""
        import grpc

        stub, pb = self._ready()
        request = pb.EmbedRequest(texts=texts, kind=pb.TEXT_KIND_DOCUMENT)
        result: Future[Vector] = Future()
        deadline = time.monotonic() + self.timeout_s

        def send(wait: float) -> None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                result.set_exception(EmbedderUnavailable(f"the model service at {self.target} stayed busy"))
                return
            call = stub.Embed.future(request, timeout=remaining)
            call.add_done_callback(lambda done: settle(done, wait))

        def settle(done: Any, wait: float) -> None:
            if done.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and time.monotonic() + wait < deadline:
                threading.Timer(wait, send, args=(wait * 2,)).start()
                return
            self._settle(done, result, len(texts), "embedding documents")

        send(BUSY_RETRY_S)
        return result

    def _settle(self, call: Any, result: Future[Vector], rows: int, what: str) -> None:
        """Complete ``result`` from a finished gRPC call: the decoded rows, or the mapped error."""
        import grpc

        try:
            reply = call.result()
        except grpc.RpcError as exc:
            result.set_exception(self._error(exc, what))
            return
        except Exception as exc:  # cancelled, or the channel closed under it
            result.set_exception(EmbedderUnavailable(f"{what}: {exc}"))
            return
        if reply.dimension != self.dimension or len(reply.vectors) != rows * self.dimension * 4:
            message = f"the model service at {self.target} answered {reply.dimension}-d vectors for {what}"
            result.set_exception(EmbedderUnavailable(message))
            return
        vectors = np.frombuffer(reply.vectors, dtype="<f4").reshape(rows, self.dimension)
        result.set_result(vectors.astype(np.float32))

    def _error(self, exc: Any, what: str) -> Exception:
        """The platform error for a failed call: bad input is 422, anything else is 503."""
        import grpc

        code = exc.code() if callable(getattr(exc, "code", None)) else None
        detail = exc.details() if callable(getattr(exc, "details", None)) else str(exc)
        if code == grpc.StatusCode.INVALID_ARGUMENT:
            return InvalidInput(f"the model service refused {what}: {detail}")
        name = code.name if code is not None else type(exc).__name__
        return EmbedderUnavailable(
            f"the model service at {self.target} is unavailable ({what}: {name}, {detail})",
            details={"target": self.target, "grpc_status": name},
        )


def _first_row(rows: Future[Vector], vector: Future[Vector]) -> None:
    """Complete ``vector`` with the one row of ``rows`` (or its error), unless it was cancelled."""
    if vector.done():
        return
    error = rows.exception()
    if error is not None:
        vector.set_exception(error)
    else:
        vector.set_result(rows.result()[0])
