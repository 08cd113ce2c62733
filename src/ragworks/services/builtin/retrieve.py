"""retrieve: hybrid BM25 + vector search over one or more collections."""

from __future__ import annotations

from ragworks.services.base import Service, ServiceContext
from ragworks.services.retrieve_models import RetrieveInput, RetrieveOutput

Input = RetrieveInput
Output = RetrieveOutput


async def run(request: Input, ctx: ServiceContext) -> Output:
    """Search; keyword, vector or both fused."""
    return await ctx.retriever.run(request)


SERVICE = Service(
    name="retrieve",
    summary="Hybrid, keyword or vector search",
    description="Search one or more collections; filters, pagination, sorting and highlights.",
    input=Input,
    output=Output,
    run=run,
    aliases=("/v1/retrieve",),
)
