"""Clients that keep uploading while a part of the system fails, and a record of what they were told.

Each client thread posts JSON documents whose ids it chose, a small batch at a time. A request that
gets no answer (refused, reset, timed out) or a 5xx is sent again unchanged, as a client that retries
does: the same ids and content, so a batch the server had accepted before its answer was lost comes
back ``unchanged`` instead of becoming a second version. Every answer is kept with its time, status
and error code, so a test can print and check what clients saw during a fault.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

WORDS = [
    "river",
    "stone",
    "forest",
    "cloud",
    "engine",
    "signal",
    "harbor",
    "lantern",
    "meadow",
    "copper",
    "canyon",
    "orbit",
]


def document(doc_id: str, n: int) -> dict[str, str]:
    """A short document (one chunk) with a token no other document has: ``mark<n>x``."""
    body = " ".join(WORDS[(n + j) % len(WORDS)] for j in range(40))
    return {"id": doc_id, "text": f"Marker mark{n}x is unique to this document. {body}"}


def marker(doc_id: str) -> str:
    """The unique token of the load's document ``doc_id`` (``c<client>-<n>``)."""
    client, n = doc_id.removeprefix("c").split("-")
    return f"mark{int(client) * 1_000_000 + int(n)}x"


@dataclass(frozen=True, slots=True)
class Answer:
    """One request's outcome: ``status`` None means no answer at all."""

    at: float  # monotonic clock, when the answer (or the failure) came
    status: int | None
    code: str | None  # the error code of the body, when there is one
    seconds: float

    @property
    def label(self) -> str:
        """``202``, ``503 not_ready``, ``no answer``: how the figures name it."""
        if self.status is None:
            return "no answer"
        return f"{self.status} {self.code}" if self.code else str(self.status)


@dataclass
class UploadLoad:
    """``clients`` threads uploading batches of ``batch`` new documents every ``pause_s`` until
    ``stop()``; a batch in flight at ``stop()`` is still sent until accepted (or ``give_up_s``)."""

    url: str
    collection: str
    clients: int = 2
    batch: int = 3
    pause_s: float = 0.2
    timeout_s: float = 10.0
    give_up_s: float = 240.0
    answers: list[Answer] = field(default_factory=list)
    accepted: dict[str, str] = field(default_factory=dict)  # document id -> outcome of its batch
    resent: int = 0  # requests sent again after no answer or a 5xx
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)
    _failures: list[str] = field(default_factory=list)

    def start(self) -> None:
        """Start the client threads."""
        for n in range(self.clients):
            thread = threading.Thread(target=self._client, args=(n,), name=f"upload-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout_s: float = 300.0) -> None:
        """Stop starting new batches and wait for the ones in flight to be accepted.

        Raises:
            AssertionError: a client met an answer no retry can fix (a 4xx) or gave up.
        """
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout_s)
        assert not any(t.is_alive() for t in self._threads), "an upload client is still waiting"
        assert not self._failures, self._failures

    def count(self, since: float = 0.0) -> Counter[str]:
        """Answers by label (``202``, ``503 not_ready``, ``no answer``...) from ``since`` on."""
        with self._lock:
            return Counter(a.label for a in self.answers if a.at >= since)

    def first_accepted_after(self, moment: float) -> float | None:
        """When the first 202 after ``moment`` came (monotonic), or None."""
        with self._lock:
            return next((a.at for a in self.answers if a.at > moment and a.status == 202), None)

    def slowest(self, since: float = 0.0) -> float:
        """The longest wait for an answer (or a failure) from ``since`` on, in seconds."""
        with self._lock:
            return max((a.seconds for a in self.answers if a.at >= since), default=0.0)

    def _client(self, n: int) -> None:
        sent = 0
        with httpx.Client(base_url=self.url, timeout=self.timeout_s) as client:
            while not self._stop.is_set():
                ids = [f"c{n}-{sent + i}" for i in range(self.batch)]
                numbers = [n * 1_000_000 + sent + i for i in range(self.batch)]
                body = {"documents": [document(d, k) for d, k in zip(ids, numbers, strict=True)]}
                if not self._send_until_accepted(client, body, ids):
                    return
                sent += self.batch
                self._stop.wait(self.pause_s)

    def _send_until_accepted(self, client: httpx.Client, body: dict[str, Any], ids: list[str]) -> bool:
        deadline = time.monotonic() + self.give_up_s
        path = f"/v1/collections/{self.collection}/documents"
        while True:
            started = time.monotonic()
            try:
                response = client.post(path, json=body)
            except httpx.TransportError:
                self._note(Answer(time.monotonic(), None, None, time.monotonic() - started))
            else:
                answer = Answer(
                    time.monotonic(), response.status_code, _code(response), time.monotonic() - started
                )
                self._note(answer)
                if response.status_code == 202:
                    with self._lock:
                        for entry in response.json()["documents"]:
                            self.accepted[entry["id"]] = entry["status"]
                    return True
                if response.status_code < 500:
                    self._failures.append(f"{ids[0]}..: {response.status_code} {response.text[:300]}")
                    return False
            if time.monotonic() > deadline:
                self._failures.append(f"{ids[0]}..: not accepted within {self.give_up_s:.0f} s")
                return False
            with self._lock:
                self.resent += 1
            time.sleep(0.2)

    def _note(self, answer: Answer) -> None:
        with self._lock:
            self.answers.append(answer)


def _code(response: httpx.Response) -> str | None:
    if response.status_code < 400:
        return None
    try:
        error = response.json().get("error")
    except ValueError:
        return "(not JSON)"
    return error.get("code") if isinstance(error, dict) else "(no error object)"
