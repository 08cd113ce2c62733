"""Streams consumed inside the embedded server (``ragworks serve --streams FILE``): the same consumer
as ``ragworks consume``, on the server's own store and queue, its metrics on the server's /metrics."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import anyio

from ragworks.container import Container
from ragworks.roles.consumer import build_intake
from ragworks.streams.config import StreamsConfig
from ragworks.streams.metrics import StreamMetrics
from ragworks.streams.runner import consume

log = logging.getLogger(__name__)


@dataclass
class InProcessStreams:
    """Starts after the container, stops before it."""

    config: StreamsConfig
    container: Container
    _stop: anyio.Event = field(default_factory=anyio.Event)
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Consume every source in a background task of the running loop."""
        intake = build_intake(self.container.core, self.container.registry)
        metrics = StreamMetrics(registry=self.container.metrics.registry)
        self._task = asyncio.create_task(consume(self.config, intake, self._stop, metrics))
        self._task.add_done_callback(_log_failure)

    async def stop(self) -> None:
        """Let each source finish the batch in hand, then return."""
        self._stop.set()
        if self._task is not None and not self._task.done():
            await self._task


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("stream consumers stopped", exc_info=task.exception())
