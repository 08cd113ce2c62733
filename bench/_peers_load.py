"""Load generator of bench/peers_compare.py, run in its own process so its CPU is never the server's
and is measured on its own (``cpu_ms_per_request`` in its answer).

Reads one JSON spec on stdin, prints one JSON result on stdout::

    {"url": "http://127.0.0.1:8000", "path": "/v1/retrieve", "bodies": [...], "seconds": 8,
     "clients": 8}                      # closed loop: 8 connections, each sends when its answer is in
    {..., "rate": 120.0, "connections": 64}   # open loop: sends on a fixed timetable

Closed loop: every connection sends its next body as soon as the previous answer is read. Open loop:
request ``i`` is due at ``start + i / rate``; it waits for a free connection if all are busy, and its
latency runs from the time it was due, so queueing (in the server or here) is never hidden
(no coordinated omission). Every request takes the next body of the list: no text is sent twice
while the list lasts.

The client speaks HTTP/1.1 on raw asyncio streams with keep-alive: an httpx client costs ~1 ms of CPU a
request, as much as the cheapest server, on the same 2 cores.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

MAX_SECONDS = 600  # hard stop whatever the spec says: the loop is bounded in time and count
MAX_REQUESTS = 1_000_000


class Connection:
    """One keep-alive HTTP/1.1 connection that POSTs JSON bodies and reads whole answers."""

    def __init__(self, host: str, port: int, path: str) -> None:
        self.host, self.port, self.path = host, port, path
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, body: bytes) -> int:
        """Send one request, read its answer; returns the status code."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = (
            f"POST {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        if not status_line:
            await self.close()
            raise ConnectionError("connection closed by the server")
        status = int(status_line.split(b" ", 2)[1])
        length, chunked, close = 0, False, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value:
                chunked = True
            elif name == "connection" and value == "close":
                close = True
        if chunked:
            while size := int((await self.reader.readline()).split(b";")[0], 16):
                await self.reader.readexactly(size + 2)
            await self.reader.readline()
        else:
            await self.reader.readexactly(length)
        if close:
            await self.close()
        return status

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def record(self, started: float, status: int | str) -> None:
        if status == 200:
            self.latencies_ms.append((time.perf_counter() - started) * 1000)
        else:
            kind = f"HTTP {status}" if isinstance(status, int) else status
            self.errors[kind] = self.errors.get(kind, 0) + 1


async def send(connection: Connection, body: bytes, due: float, tally: Tally) -> None:
    try:
        status: int | str = await connection.post(body)
    except (OSError, ValueError, IndexError, asyncio.IncompleteReadError) as exc:
        await connection.close()
        status = type(exc).__name__
    tally.record(due, status)


async def closed_loop(spec: dict[str, Any], bodies: list[bytes], tally: Tally) -> float:
    address = urlsplit(spec["url"])
    deadline = time.perf_counter() + min(float(spec["seconds"]), MAX_SECONDS)
    counter = iter(range(min(len(bodies), MAX_REQUESTS)))

    async def one_client() -> None:
        connection = Connection(address.hostname or "127.0.0.1", address.port or 80, spec["path"])
        for number in counter:
            if time.perf_counter() >= deadline:
                break
            await send(connection, bodies[number], time.perf_counter(), tally)
        await connection.close()

    began = time.perf_counter()
    await asyncio.gather(*(one_client() for _ in range(int(spec["clients"]))))
    return time.perf_counter() - began


async def open_loop(spec: dict[str, Any], bodies: list[bytes], tally: Tally) -> float:
    address = urlsplit(spec["url"])
    rate = float(spec["rate"])
    total = min(int(rate * min(float(spec["seconds"]), MAX_SECONDS)), len(bodies), MAX_REQUESTS)
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(int(spec.get("connections", 64))):
        idle.put_nowait(Connection(address.hostname or "127.0.0.1", address.port or 80, spec["path"]))

    async def scheduled(number: int, due: float) -> None:
        connection = await idle.get()  # waiting here counts: latency runs from ``due``
        try:
            await send(connection, bodies[number], due, tally)
        finally:
            idle.put_nowait(connection)

    began = time.perf_counter()
    tasks = []
    for number in range(total):
        due = began + number / rate
        pause = due - time.perf_counter()
        if pause > 0:
            await asyncio.sleep(pause)
        tasks.append(asyncio.create_task(scheduled(number, due)))
    await asyncio.gather(*tasks)
    while not idle.empty():
        await idle.get_nowait().close()
    return time.perf_counter() - began


def main() -> None:
    spec = json.load(sys.stdin)
    bodies = [json.dumps(body).encode() for body in spec["bodies"]]
    tally = Tally()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    run = open_loop if spec.get("rate") else closed_loop
    seconds = asyncio.run(run(spec, bodies, tally))
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    done = len(tally.latencies_ms) + sum(tally.errors.values())
    print(
        json.dumps(
            {
                "latencies_ms": tally.latencies_ms,
                "errors": tally.errors,
                "seconds": seconds,
                "client_cpu_ms_per_request": 1000 * cpu_s / done if done else 0.0,
            }
        )
    )


if __name__ == "__main__":
    main()
