"""The soak benchmark's load: what each kind of request sends, and an open-loop driver that starts every
request at its scheduled time whether or not earlier ones have answered.

Open loop matters for a soak: a closed-loop client slows down when the server does, which hides exactly
the slowdown a soak looks for. Latency is therefore measured from the moment a request was due, so time
spent waiting in the client (a full connection pool, a late event loop) counts against the figures too.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import random
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from _common import as_upload

COLLECTION = "soak"
# Arrivals per second of each scheduled action at --rate 1: a mix a small team's assistant might see,
# a few percent of what 2 cores serve, so the soak measures drift rather than saturation.
BASE_RATES: dict[str, float] = {
    "keyword": 4.0,
    "hybrid": 2.0,
    "upload": 0.5,
    "churn": 1 / 30,  # delete a document, then upload the same id again
    "summarize": 1 / 60,
    "answer": 1 / 60,
}
# What each action is recorded as (churn makes two requests, recorded as 'delete' and 'reupload').
KINDS = ("keyword", "hybrid", "upload", "delete", "reupload", "summarize", "answer")
CHURN_IDS = 20  # seed documents that are deleted and uploaded again in turn; never summarized


@dataclass(frozen=True)
class Outcome:
    """One finished (or refused) request: when it was due and ended (s since the run's start)."""

    kind: str
    due_s: float
    end_s: float
    ms: float
    error: str  # '' when the server answered 2xx


@dataclass
class Recorder:
    """Every outcome of a run, in completion order; ``origin`` is the run's start (perf_counter)."""

    origin: float
    outcomes: list[Outcome] = field(default_factory=list)

    def add(self, kind: str, due: float, error: str) -> None:
        now = time.perf_counter()
        self.outcomes.append(Outcome(kind, due - self.origin, now - self.origin, (now - due) * 1000, error))


class Workload:
    """Hands out the next query, document or id for each kind; nothing is reused while fresh input lasts."""

    def __init__(self, corpus: list[dict[str, Any]], seed_count: int, queries: list[str]) -> None:
        self.corpus, self.seed_count = corpus, seed_count
        self._queries = itertools.cycle(queries)
        self.query_count, self.queries_used = len(queries), 0
        self._uploads = itertools.count()
        self._churn = itertools.cycle(corpus[: min(CHURN_IDS, seed_count)])
        stable = corpus[min(CHURN_IDS, seed_count) : seed_count] or corpus[:seed_count]
        self._summarized = itertools.cycle(random.Random(11).sample(stable, len(stable)))

    def query(self) -> str:
        self.queries_used += 1
        return next(self._queries)

    def upload(self) -> dict[str, Any]:
        """The next unseen corpus document; once all are in, the same ones again with a changed title,
        so each upload still makes a new version to ingest rather than an 'unchanged' no-op."""
        fresh = self.corpus[self.seed_count :] or self.corpus
        number = next(self._uploads)
        body = as_upload(fresh[number % len(fresh)])
        if number >= len(fresh):
            body["title"] = f"{body.get('title', '')} (pass {number // len(fresh) + 1})".strip()
        return body

    def churn(self) -> dict[str, Any]:
        return as_upload(next(self._churn))

    def summarized_id(self) -> str:
        return str(next(self._summarized)["id"])


class Driver:
    """Sends the requests of each kind over one HTTP client and records their outcomes."""

    def __init__(self, client: httpx.AsyncClient, work: Workload, recorder: Recorder) -> None:
        self.client, self.work, self.recorder = client, work, recorder

    async def call(self, kind: str, due: float, method: str, path: str, body: Any = None) -> bool:
        try:
            response = await self.client.request(method, path, json=body)
            error = "" if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        self.recorder.add(kind, due, error)
        return not error

    async def retrieve(self, mode: str, due: float) -> None:
        body = {"query": self.work.query(), "collections": [COLLECTION], "top_k": 10, "mode": mode}
        await self.call(mode, due, "POST", "/v1/retrieve", body)

    async def keyword(self, due: float) -> None:
        await self.retrieve("keyword", due)

    async def hybrid(self, due: float) -> None:
        await self.retrieve("hybrid", due)

    async def upload(self, due: float) -> None:
        body = {"documents": [self.work.upload()]}
        await self.call("upload", due, "POST", f"/v1/collections/{COLLECTION}/documents", body)

    async def churn(self, due: float) -> None:
        """Delete a document, then upload the same id and text again (a new version to ingest)."""
        document = self.work.churn()
        path = f"/v1/collections/{COLLECTION}/documents"
        if await self.call("delete", due, "DELETE", f"{path}/{document['id']}"):
            await self.call("reupload", time.perf_counter(), "POST", path, {"documents": [document]})

    async def summarize(self, due: float) -> None:
        body = {"collection": COLLECTION, "document_id": self.work.summarized_id(), "target_words": 40}
        await self.call("summarize", due, "POST", "/v1/summarize", body)

    async def answer(self, due: float) -> None:
        body = {"question": self.work.query(), "collections": [COLLECTION], "top_k": 3, "max_tokens": 64}
        await self.call("answer", due, "POST", "/v1/answer", body)

    def actions(self) -> dict[str, Callable[[float], Coroutine[Any, Any, None]]]:
        """Each scheduled action by the name its rate has in ``BASE_RATES``."""
        return {
            "keyword": self.keyword,
            "hybrid": self.hybrid,
            "upload": self.upload,
            "churn": self.churn,
            "summarize": self.summarize,
            "answer": self.answer,
        }


async def drive(driver: Driver, rates: dict[str, float], seconds: float, max_in_flight: int) -> None:
    """Start each action at fixed intervals (1 / rate, phases spread) for ``seconds`` from the recorder's
    origin, then wait for the requests still in flight. A request due while ``max_in_flight`` are
    outstanding is not sent and is recorded as a 'client backlog' error: the server has fallen behind
    the offered rate."""
    actions = driver.actions()
    start = driver.recorder.origin
    until = start + seconds
    due = [(start + (i + 1) / (len(rates) + 1) / rate, name) for i, (name, rate) in enumerate(rates.items())]
    heapq.heapify(due)
    in_flight: set[asyncio.Task[None]] = set()
    while due and due[0][0] < until:
        when, name = heapq.heappop(due)
        heapq.heappush(due, (when + 1 / rates[name], name))
        await asyncio.sleep(max(0.0, when - time.perf_counter()))
        if len(in_flight) >= max_in_flight:
            driver.recorder.add("delete" if name == "churn" else name, when, "client backlog")
            continue
        task = asyncio.create_task(actions[name](when))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    if in_flight:
        await asyncio.wait(in_flight)


def query_pool(scifact: Path, corpus: list[dict[str, Any]]) -> list[str]:
    """Distinct texts to search with: SciFact queries (all splits), corpus titles and each abstract's
    first sentence, shuffled with a fixed seed (so the query-vector cache cannot flatter later minutes
    until the pool runs out, which the report says)."""
    seen: dict[str, None] = {}
    with (scifact / "queries.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                seen.setdefault(json.loads(line)["text"].strip(), None)
    for doc in corpus:
        seen.setdefault(doc["title"].strip(), None)
        seen.setdefault(doc["text"].split(". ", 1)[0].strip()[:300], None)
    texts = [text for text in seen if len(text.split()) >= 3]
    random.Random(7).shuffle(texts)
    return texts
