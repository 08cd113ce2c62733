"""Running a process role until SIGINT or SIGTERM."""

from __future__ import annotations

import signal
from collections.abc import Awaitable, Callable

import anyio


def run_until_signalled(body: Callable[[anyio.Event], Awaitable[None]]) -> None:
    """Run ``body(stop)`` on a new event loop; the first SIGINT or SIGTERM sets ``stop``, and ``body``
    is expected to wind down and return once it is set."""

    async def main() -> None:
        stop = anyio.Event()

        async def on_signals() -> None:
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for _ in signals:
                    stop.set()
                    return

        async with anyio.create_task_group() as group:
            group.start_soon(on_signals)
            await body(stop)
            group.cancel_scope.cancel()

    anyio.run(main)
