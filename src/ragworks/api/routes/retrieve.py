"""Retrieval."""

from __future__ import annotations

from fastapi import APIRouter

from ragworks.api.deps import RetrieverDep
from ragworks.services.retrieve_models import RetrieveInput, RetrieveOutput

router = APIRouter(prefix="/v1", tags=["retrieve"])


@router.post("/retrieve", response_model=RetrieveOutput, summary="Hybrid, keyword or vector search")
async def retrieve(body: RetrieveInput, retriever: RetrieverDep) -> RetrieveOutput:
    return await retriever.run(body)
