"""Keyword retrieves take turns on ``KEYWORD_LANES`` threads; searches that wait for a query embedding
keep the thread pool's wider limit."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from ragworks.config import SearchSettings
from ragworks.ingest.analysis import Analyzer
from ragworks.services.retrieve import KEYWORD_LANES, Retriever
from ragworks.services.retrieve_models import RetrieveInput, RetrieveOutput


class _CountingRetriever(Retriever):
    """Runs no search: each call holds its thread for a while and records how many ran at once."""

    active = 0
    most = 0
    lock = threading.Lock()

    def retrieve(self, request: RetrieveInput) -> RetrieveOutput:
        cls = type(self)
        with cls.lock:
            cls.active += 1
            cls.most = max(cls.most, cls.active)
        time.sleep(0.05)
        with cls.lock:
            cls.active -= 1
        return RetrieveOutput(
            results=[], took_ms=0.0, mode=request.mode, query_language="en", vector_weight=0.0
        )


def _retriever() -> _CountingRetriever:
    unused: Any = None  # the counting retriever touches no engine
    return _CountingRetriever(unused, unused, unused, Analyzer(), unused, SearchSettings())


def _most_at_once(mode: str, calls: int = 8) -> int:
    retriever = _retriever()
    _CountingRetriever.most = 0

    async def all_at_once() -> None:
        request = RetrieveInput(query="refunds", collections=["docs"], mode=mode)
        await asyncio.gather(*(retriever.run(request) for _ in range(calls)))

    asyncio.run(all_at_once())
    asyncio.run(all_at_once())  # a second event loop gets its own lanes
    return _CountingRetriever.most


def test_keyword_searches_take_turns() -> None:
    assert _most_at_once("keyword") == KEYWORD_LANES


def test_searches_that_embed_a_query_are_not_held_to_the_keyword_lanes() -> None:
    assert _most_at_once("hybrid") > KEYWORD_LANES
    assert _most_at_once("vector") > KEYWORD_LANES
