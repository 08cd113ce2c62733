"""Runs AI services: builds their context, and counts, times and logs every call."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ragworks.services.base import InputT, OutputT, Service, ServiceContext, ServiceEvent
from ragworks.services.registry import ServiceRegistry
from ragworks.usage.context import note_collections, note_query
from ragworks.usage.records import facts_from_models

if TYPE_CHECKING:
    from ragworks.config import Settings
    from ragworks.engines.embed.base import Embedder
    from ragworks.engines.llm.base import LLM
    from ragworks.engines.store.base import ChunkStore, MetadataStore
    from ragworks.ingest.analysis import Analyzer
    from ragworks.observability.metrics import Metrics
    from ragworks.services.retrieve import Retriever

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ServiceRunner:
    """The one place service calls go through, whether from HTTP, a background job or another service."""

    registry: ServiceRegistry
    settings: Settings
    retriever: Retriever
    llm: LLM
    embedder: Embedder
    analyzer: Analyzer
    store: MetadataStore
    chunks: ChunkStore
    metrics: Metrics

    def context(self, request_id: str | None) -> ServiceContext:
        """A fresh top-level context for one call."""
        return ServiceContext(
            settings=self.settings,
            retriever=self.retriever,
            llm=self.llm,
            embedder=self.embedder,
            analyzer=self.analyzer,
            store=self.store,
            chunks=self.chunks,
            invoke=self._invoke_nested,
            lookup=self.registry.get,
            request_id=request_id,
        )

    async def run(
        self, service: Service[InputT, OutputT], data: InputT, *, request_id: str | None, mode: str = "sync"
    ) -> OutputT:
        """Run ``service`` on validated input."""
        output = await self._timed(service, data, self.context(request_id), mode)
        facts = facts_from_models(data, output)
        if facts.query is not None:  # for the usage log: what it would otherwise parse from the bodies
            note_collections(facts.collections)
            note_query(facts.query, facts.result_count)
        return output

    async def stream(
        self, service: Service[InputT, OutputT], data: InputT, *, request_id: str | None
    ) -> AsyncIterator[ServiceEvent]:
        """Stream ``service``'s events; one that cannot stream yields only its ``done`` event."""
        ctx = self.context(request_id)
        if service.stream is None:
            output = await self._timed(service, data, ctx, "stream")
            yield ServiceEvent("done", output.model_dump(mode="json"))
            return
        started, outcome = time.perf_counter(), "ok"
        try:
            async for event in service.stream(data, ctx):
                yield event
        except BaseException as exc:
            outcome = _outcome(exc)
            raise
        finally:
            self._record(service.name, "stream", outcome, started)

    async def _invoke_nested(
        self, service: Service[Any, Any], data: BaseModel, ctx: ServiceContext
    ) -> BaseModel:
        return await self._timed(service, data, ctx, "nested")

    async def _timed(
        self, service: Service[InputT, OutputT], data: InputT, ctx: ServiceContext, mode: str
    ) -> OutputT:
        started, outcome = time.perf_counter(), "ok"
        try:
            return await service.run(data, ctx)
        except BaseException as exc:
            outcome = _outcome(exc)
            raise
        finally:
            self._record(service.name, mode, outcome, started)

    def _record(self, name: str, mode: str, outcome: str, started: float) -> None:
        took = time.perf_counter() - started
        self.metrics.observe_service(name, mode, outcome, took)
        level = logging.INFO if outcome == "ok" else logging.WARNING
        log.log(
            level,
            "service call",
            extra={"service": name, "mode": mode, "outcome": outcome, "duration_ms": round(took * 1000, 2)},
        )


def _outcome(exc: BaseException) -> str:
    """A bounded label for a failure: the error's stable code, or its type."""
    return str(getattr(exc, "code", None) or type(exc).__name__)
