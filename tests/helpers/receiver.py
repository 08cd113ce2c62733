"""A real HTTP server on loopback that records the callbacks POSTed to it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Answers ``fail_first`` requests with HTTP 500, then 204; keeps every request it saw."""

    url: str
    fail_first: int = 0
    seen: list[Delivery] = field(default_factory=list)

    def accepted(self) -> list[Delivery]:
        return self.seen[self.fail_first :]

    def wait_for(self, count: int, timeout_s: float = 60.0) -> list[Delivery]:
        """The first ``count`` accepted deliveries, waiting for them."""
        deadline = time.monotonic() + timeout_s
        while len(self.accepted()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} deliveries, got {len(self.accepted())}")
            time.sleep(0.05)
        return self.accepted()[:count]


@contextmanager
def receiver(fail_first: int = 0) -> Iterator[Receiver]:
    """Run a receiver for the duration of the block."""
    state = Receiver(url="", fail_first=fail_first)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.seen.append(Delivery(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(500 if len(state.seen) <= state.fail_first else 204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
