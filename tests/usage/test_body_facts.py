"""What the usage log says of a service call: read from its models at the top-level call, or parsed
from its JSON bodies by the recorder; both readings agree."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from ragworks.services.builtin.answer import Input as AnswerInput
from ragworks.services.retrieve_models import RetrieveHit, RetrieveInput, RetrieveOutput
from ragworks.usage.records import BodyFacts, facts_from_bodies, facts_from_models


def _hit(number: int) -> RetrieveHit:
    return RetrieveHit(
        chunk_id=str(number), document_id=f"d{number}", collection="docs", text="t", score=1.0, title=None,
        metadata={}, page=None, start=0, end=1, source=None, highlights=None,
    )  # fmt: skip


class _Summary(BaseModel):
    summary: str


CASES: list[tuple[BaseModel, BaseModel]] = [
    (
        RetrieveInput(query="when do refunds arrive", collections=["docs", "faq"]),
        RetrieveOutput(
            results=[_hit(1), _hit(2)], took_ms=1.0, mode="hybrid", query_language="en", vector_weight=0.5
        ),
    ),
    (
        RetrieveInput(query="nothing", collections=["docs"]),
        RetrieveOutput(results=[], took_ms=1.0, mode="keyword", query_language="en", vector_weight=0.0),
    ),
    (AnswerInput(question="how long do refunds take?", collections=["docs"]), _Summary(summary="x")),
    (_Summary(summary="no query here"), _Summary(summary="y")),
]


@pytest.mark.parametrize(("request_model", "response_model"), CASES)
def test_models_and_bodies_give_the_same_facts(request_model: BaseModel, response_model: BaseModel) -> None:
    from_bodies = facts_from_bodies(
        request_model.model_dump_json().encode(), response_model.model_dump_json().encode()
    )

    assert facts_from_models(request_model, response_model) == from_bodies


def test_a_retrieve_reads_its_query_collections_and_result_count() -> None:
    request, response = CASES[0]

    assert facts_from_models(request, response) == BodyFacts(
        collections=("docs", "faq"), query="when do refunds arrive", result_count=2
    )
    assert json.loads(response.model_dump_json())["results"]  # the list the body reading counts
