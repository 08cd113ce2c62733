"""What an AI service is, and the context it runs in.

A service is one module that ends with ``SERVICE = Service(name=..., input=Input, output=Output,
run=run)``: pydantic ``Input`` and ``Output`` models (with descriptions and examples, they become the
HTTP schema) and ``async def run(input, ctx) -> Output``. A service that can stream also passes
``stream=``, an async generator of :class:`ServiceEvent` that ends with the ``done`` event carrying the
output. Routes, background jobs, metrics and logs are generated from that; a service writes none of them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from ragworks.errors import BadRequest, InvalidInput

if TYPE_CHECKING:
    from ragworks.config import Settings
    from ragworks.engines.embed.base import Embedder
    from ragworks.engines.llm.base import LLM
    from ragworks.engines.store.base import ChunkStore, MetadataStore
    from ragworks.ingest.analysis import Analyzer
    from ragworks.services.retrieve import Retriever

InputT = TypeVar("InputT", bound=BaseModel)
OutputT = TypeVar("OutputT", bound=BaseModel)

# Request fields every service route adds to its Input; a service's Input must not use these names.
ENVELOPE_FIELDS = frozenset({"async", "callback_url", "stream"})


@dataclass(frozen=True, slots=True)
class ServiceEvent:
    """One streamed event: ``token`` (``{"text": ...}``), service-specific events such as ``citations``,
    and last ``done`` with the whole output."""

    event: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Service(Generic[InputT, OutputT]):
    """A named operation with typed input and output; see the module docstring."""

    name: str
    summary: str
    input: type[InputT]
    output: type[OutputT]
    run: Callable[[InputT, ServiceContext], Awaitable[OutputT]]
    stream: Callable[[InputT, ServiceContext], AsyncIterator[ServiceEvent]] | None = None
    aliases: tuple[str, ...] = ()  # friendly routes besides /v1/services/{name}, e.g. "/v1/answer"
    description: str = ""

    def parse(self, data: Mapping[str, Any] | BaseModel) -> InputT:
        """Validate ``data`` as this service's input; InvalidInput (with the invalid fields) if it is not."""
        if isinstance(data, self.input):
            return data
        raw = data.model_dump() if isinstance(data, BaseModel) else dict(data)
        try:
            return self.input.model_validate(raw)
        except ValidationError as exc:
            details = [{k: e[k] for k in ("loc", "msg", "type")} for e in exc.errors()]
            raise InvalidInput(f"invalid input for service '{self.name}'", details=details) from None


ServiceCall = Callable[["Service[Any, Any]", BaseModel, "ServiceContext"], Awaitable[BaseModel]]


@dataclass(slots=True)
class ServiceContext:
    """What a running service may use: the engines' ports and other services (called in-process)."""

    settings: Settings
    retriever: Retriever
    llm: LLM
    embedder: Embedder
    analyzer: Analyzer
    store: MetadataStore
    chunks: ChunkStore
    invoke: ServiceCall
    lookup: Callable[[str], Service[Any, Any]]
    request_id: str | None = None
    depth: int = field(default=0)

    async def call(self, service: Service[InputT, OutputT], data: InputT | Mapping[str, Any]) -> OutputT:
        """Run another service (counted and timed like any call, no HTTP hop)."""
        nested = replace(self, depth=self.depth + 1)
        if nested.depth > 8:
            raise BadRequest("services call each other more than 8 levels deep")
        result = await self.invoke(service, service.parse(data), nested)
        assert isinstance(result, service.output)
        return result

    async def call_named(self, name: str, data: Mapping[str, Any]) -> BaseModel:
        """Run another service by its registry name (for services that compose configurable parts)."""
        return await self.call(self.lookup(name), data)
