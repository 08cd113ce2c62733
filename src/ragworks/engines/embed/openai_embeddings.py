"""``embed.provider = "openai"``: any OpenAI-compatible ``/v1/embeddings`` server.

Text Embeddings Inference, Infinity, vLLM, Ollama and ``ragworks model-serve``'s HTTP side all speak
it. Requests carry at most ``embed.batch_texts`` texts and ``encoding_format: "float"`` (every server
supports it); rows are L2-normalised here, since not every server normalises. One ``httpx.Client``
(thread-safe, pooled) serves all threads; queries run on a small thread pool so ``submit_query``
returns at once. Failures a later attempt may not see (connection refused, timeouts, 429, 5xx) raise
``EmbedderUnavailable`` (503); a request the server refuses as bad input raises ``InvalidInput``.

Token counts: the bundled MiniLM's tokenizer for MiniLM, else an approximation (one token per four
characters, ``identity.estimate_tokens``): the OpenAI API has no way to count tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt

from ragworks.engines.embed.identity import (
    ModelIdentity,
    check_served,
    estimate_tokens,
    local_counter_for,
)
from ragworks.errors import EmbedderUnavailable, InvalidInput, NotReady

Vector = npt.NDArray[np.float32]

QUERY_THREADS = 4  # queries in flight at once
INPUT_ERRORS = frozenset({400, 413, 422})  # the server refused the texts themselves


class OpenAIEmbedder:
    """An Embedder and QueryEmbedder calling an OpenAI-compatible embeddings endpoint."""

    def __init__(
        self,
        base_url: str,
        identity: ModelIdentity,
        *,
        api_key: str = "none",
        timeout_s: float = 30.0,
        query_timeout_s: float = 2.0,
        batch_texts: int = 64,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.identity = identity
        self.name = identity.name
        self.dimension = identity.dimension
        self.max_tokens = identity.max_tokens
        self.languages = identity.languages
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.query_timeout_s = query_timeout_s
        self.batch_texts = batch_texts
        self._client: httpx.Client | None = None
        self._queries: ThreadPoolExecutor | None = None
        self._local = local_counter_for(identity.name)

    def start(self) -> None:
        """Connect and embed one text, checking the vectors' length against ``dimension``.

        Raises:
            EmbedderUnavailable: the server did not answer within ``timeout_s``.
            RuntimeError: its vectors have another length than this process is configured for.
        """
        self._client = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=self.timeout_s,
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
        )
        self._queries = ThreadPoolExecutor(QUERY_THREADS, thread_name_prefix="openai-embed-query")
        probe = self._request(["dimension probe"], self.timeout_s, normalise=False, expect=None)
        check_served(self.identity, self.name, probe.shape[1], f"the embeddings server at {self.base_url}")

    def close(self) -> None:
        """Close the connection pool and the query threads."""
        if self._queries is not None:
            self._queries.shutdown(wait=False, cancel_futures=True)
            self._queries = None
        if self._client is not None:
            self._client.close()
            self._client = None

    def embed(self, texts: Sequence[str]) -> Vector:
        """Embed documents, ``batch_texts`` per request, rows L2-normalised."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for begin in range(0, len(texts), self.batch_texts):
            part = list(texts[begin : begin + self.batch_texts])
            out[begin : begin + len(part)] = self._request(part, self.timeout_s)
        return out

    def submit_query(self, text: str) -> Future[Vector]:
        """Start embedding one query on the query threads (deadline ``query_timeout_s``)."""
        if self._queries is None:
            raise NotReady("the openai embedder is not started")
        return self._queries.submit(lambda: self._request([text], self.query_timeout_s)[0])

    def count_tokens(self, text: str) -> int:
        """MiniLM's exact count, else about one token per four characters."""
        if self._local is not None:
            return self._local.count(text)
        return estimate_tokens(text)

    def _request(
        self, texts: list[str], timeout_s: float, *, normalise: bool = True, expect: int | None = -1
    ) -> Vector:
        """POST /embeddings for ``texts``; rows in input order (``expect``: the dimension to check,
        -1 = this embedder's, None = any)."""
        if self._client is None:
            raise NotReady("the openai embedder is not started")
        body = {"model": self.name, "input": texts, "encoding_format": "float"}
        try:
            response = self._client.post("/embeddings", json=body, timeout=timeout_s)
        except httpx.HTTPError as exc:
            raise self._unavailable(type(exc).__name__, str(exc)) from exc
        if response.status_code in INPUT_ERRORS:
            raise InvalidInput(f"the embeddings server refused the texts: {response.text[:300]}")
        if response.status_code != 200:
            raise self._unavailable(f"HTTP {response.status_code}", response.text[:300])
        rows = _rows(response.json(), len(texts))
        wanted = self.dimension if expect == -1 else expect
        if wanted is not None and rows.shape[1] != wanted:
            raise self._unavailable("wrong dimension", f"{rows.shape[1]}-d vectors, expected {wanted}")
        if normalise:
            norms = np.linalg.norm(rows, axis=1, keepdims=True)
            rows = (rows / np.where(norms > 0, norms, 1.0)).astype(np.float32)
        return rows.astype(np.float32, copy=False)

    def _unavailable(self, reason: str, detail: str) -> EmbedderUnavailable:
        return EmbedderUnavailable(
            f"the embeddings server at {self.base_url} is unavailable ({reason}: {detail})",
            details={"base_url": self.base_url, "reason": reason},
        )


def _rows(payload: Any, count: int) -> Vector:
    """The vectors of an OpenAI embeddings response, ordered by their ``index``."""
    items = sorted(payload.get("data", []), key=lambda item: int(item.get("index", 0)))
    if len(items) != count:
        raise EmbedderUnavailable(f"the embeddings server answered {len(items)} vectors for {count} texts")
    return np.asarray([item["embedding"] for item in items], dtype=np.float32)
