"""The ``stream.publish`` handler: appends events, service results and dead letters to streams.

A job's payload names the broker (``url``), the ``stream``, the ``value`` text (None for a tombstone),
the ``key`` and the ``headers``; the outbox wrote it in the transaction that recorded the outcome
(``jobs/events.py``). One started publisher per broker URL is kept and reused; one that failed is
closed and opened afresh on the next attempt. Delivery is at-least-once: a publish whose completion
was lost is made again, with the same ``ragworks-event-id`` header for receivers to drop it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from ragworks.domain import Job, JobKind, JobResults
from ragworks.engines.streams import providers
from ragworks.engines.streams.base import StreamPublisher
from ragworks.errors import RagworksError
from ragworks.jobs.worker import Handler, JobContext

log = logging.getLogger(__name__)


class StreamPublishRefused(RagworksError):
    """The delivery names no broker that can be published to (unknown scheme, a change feed): final."""

    status_code = 400
    code = "stream_publish_refused"


class StreamPublishFailed(RagworksError):
    """The broker could not be reached or refused the message; the delivery is retried."""

    status_code = 502
    code = "stream_publish_failed"


@dataclass
class StreamDeliveries:
    """Publishes ``stream.publish`` jobs in the order they were leased, reusing one publisher per URL."""

    _publishers: dict[str, StreamPublisher] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def handlers(self) -> dict[str, Handler]:
        """The registry entries this class provides."""
        return {JobKind.STREAM_PUBLISH: self.publish}

    async def publish(self, jobs: list[Job], _ctx: JobContext) -> JobResults:
        """Publish each job's message, one after another (a stream keeps the order of its batch)."""
        results: JobResults = {}
        for job in jobs:
            try:
                results[job.id] = await self._publish_one(job)
            except Exception as exc:  # the job fails with the reason; the rest of the batch goes on
                results[job.id] = exc
        return results

    async def close(self) -> None:
        """Close every publisher (at worker stop)."""
        async with self._lock:
            publishers, self._publishers = list(self._publishers.values()), {}
        for publisher in publishers:
            with contextlib.suppress(Exception):
                await publisher.close()

    async def _publish_one(self, job: Job) -> dict[str, object]:
        payload = job.payload
        url, stream = str(payload["url"]), str(payload["stream"])
        value, key = payload.get("value"), payload.get("key")
        headers = {str(k): str(v) for k, v in (payload.get("headers") or {}).items()}
        publisher = await self._publisher(url)
        try:
            position = await publisher.publish(
                stream,
                None if value is None else str(value).encode(),
                key=None if key is None else str(key).encode(),
                headers=headers,
            )
        except Exception as exc:
            await self._forget(url, publisher)
            raise StreamPublishFailed(f"publish to '{stream}' failed: {type(exc).__name__}: {exc}") from exc
        return {"stream": stream, "position": position, "for_job": payload.get("for_job")}

    async def _publisher(self, url: str) -> StreamPublisher:
        async with self._lock:
            publisher = self._publishers.get(url)
            if publisher is not None:
                return publisher
            try:
                publisher = providers.open_publisher(url)
            except (ValueError, ImportError) as exc:  # a wrong URL or a missing client library
                raise StreamPublishRefused(f"cannot publish to this stream URL: {exc}") from exc
            try:
                await publisher.start()
            except Exception as exc:
                with contextlib.suppress(Exception):
                    await publisher.close()
                raise StreamPublishFailed(f"cannot connect a publisher: {type(exc).__name__}: {exc}") from exc
            self._publishers[url] = publisher
            return publisher

    async def _forget(self, url: str, publisher: StreamPublisher) -> None:
        async with self._lock:
            if self._publishers.get(url) is publisher:
                del self._publishers[url]
        with contextlib.suppress(Exception):
            await publisher.close()
