"""Every source of a streams file, consumed in one process until stopped."""

from __future__ import annotations

import logging

import anyio
from prometheus_client import start_http_server

from ragworks.engines.streams.base import SourceOptions
from ragworks.engines.streams.providers import open_publisher, open_source
from ragworks.streams.config import ConsumerSection, SourceSection, StreamsConfig
from ragworks.streams.consumer import SourceConsumer
from ragworks.streams.intake import Intake
from ragworks.streams.metrics import StreamMetrics

log = logging.getLogger(__name__)


def build_source_consumer(
    source: SourceSection, consumer: ConsumerSection, intake: Intake, metrics: StreamMetrics
) -> SourceConsumer:
    """The consumer of one source, with a publisher on the same broker for results and dead letters.

    Raises:
        ValueError: an unknown URL scheme, or a dead-letter or results stream on a change feed.
    """
    options = SourceOptions(
        group=source.group,
        consumer=consumer.name,
        redeliver_after_s=consumer.redeliver_after_s,
        extra=dict(source.options),
    )
    stream_source = open_source(source.url, source.stream, options)
    publishes = bool(source.dead_letter) or source.kind == "services"
    publisher = open_publisher(source.url) if publishes else None
    return SourceConsumer(source, consumer, stream_source, publisher, intake, metrics)


async def consume(config: StreamsConfig, intake: Intake, stop: anyio.Event, metrics: StreamMetrics) -> None:
    """Consume every source until ``stop`` is set; each finishes the batch in hand first."""
    consumers = [build_source_consumer(s, config.consumer, intake, metrics) for s in config.sources]
    if config.consumer.metrics_port:
        start_http_server(config.consumer.metrics_port, registry=metrics.registry)
        log.info("stream metrics on port %d", config.consumer.metrics_port)

    async def stop_all() -> None:
        await stop.wait()
        for consumer in consumers:
            consumer.stop()

    async with anyio.create_task_group() as group:
        group.start_soon(stop_all)
        async with anyio.create_task_group() as sources:
            for consumer in consumers:
                sources.start_soon(consumer.run)
            log.info("consumer started: %d source(s)", len(consumers))
        group.cancel_scope.cancel()
    log.info("consumer stopped")
