"""Schemathesis over every operation of the HTTP API: no 5xx, and every response has a documented status,
content type and body schema.

The app is a real one started in-process (ASGI) on its own data dir, with the extractive LLM. Cases come
from the schema (valid and invalid ones, its examples and boundary values) and from
``helpers.hostile_cases``: NUL characters and integers past 64 bits in every parameter, which generation
alone seldom produces. The run is derandomized by a fixed seed, so a failure repeats. On PostgreSQL,
whose text cannot hold NUL, the same test runs again with the examples, the hostile cases and a few
generated ones (no boundary values), to stay quick.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from helpers.hostile_cases import add_hostile_cases
from helpers.postgres import PostgresServer
from ragworks.app import create_app
from ragworks.config import JobSettings, LLMSettings, Settings, StoreSettings

SEED = 20240614
# Error codes of the documented 501 that an extractive server gives an OpenAI chat no model can answer.
NO_MODEL_CODES = {"llm_unavailable", "grounding_unavailable"}


@dataclass(frozen=True, slots=True)
class Run:
    """How much one store's run generates, and the fewest cases it must have sent."""

    max_examples: int  # generated per operation and generation mode
    boundaries: bool  # Schemathesis' coverage phase: boundary and type-breaking values of every field
    min_cases: int


RUNS = {"sqlite": Run(12, True, 1000), "postgres": Run(10, False, 400)}


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for this module's PostgreSQL run (its own, so no database is shared)."""
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def sent_cases() -> Counter[str]:
    """Cases sent, by operation."""
    return Counter()


@pytest.fixture(params=["sqlite", "postgres"])
def api_schema(
    request: pytest.FixtureRequest, tmp_path: Path, sent_cases: Counter[str]
) -> Iterator[schemathesis.BaseSchema]:
    """The schema of a started app on its own database; checks at the end that enough cases were sent."""
    store = StoreSettings()
    if request.param == "postgres":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        store = StoreSettings(url=server.url(server.create_database()))
    app = create_app(
        Settings(
            data_dir=tmp_path / "data",
            log_json=False,
            store=store,
            jobs=JobSettings(poll_interval_s=0.1, max_attempts=1),
            llm=LLMSettings(provider="extractive"),
        )
    )
    run = RUNS[request.param]
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {
                "max-examples": run.max_examples,
                "mode": "all",
                "deterministic": True,
                "database": "none",
            },
            "phases": {"examples": {"fill-missing": True}, "coverage": {"enabled": run.boundaries}},
        }
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
    schema.hook("before_add_examples")(add_hostile_cases)
    yield schema
    total = sum(sent_cases.values())
    assert total >= run.min_cases, f"only {total} cases were sent: {dict(sent_cases)}"


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    """Schemathesis 4 renames the test node through ``_nodeid``, an attribute pytest 9 no longer has."""
    request.node._nodeid = request.node.nodeid


def no_server_error(ctx: schemathesis.CheckContext, response: schemathesis.Response, case: Case) -> None:
    """``not_a_server_error``, but for the documented 501 of a chat that this server has no model for."""
    if response.status_code == 501 and _error_code(response) in NO_MODEL_CODES:
        return
    not_a_server_error(ctx, response, case)


def nul_in_url_is_refused(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: Case
) -> None:
    """A NUL character in a path or query parameter is refused with 422, never looked up."""
    del ctx, case
    sent = str(response.request.url)
    if "%00" in sent.upper() and response.status_code != 422:
        raise AssertionError(f"a NUL in the URL was answered {response.status_code}, not 422")


CHECKS = [
    no_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    nul_in_url_is_refused,
]


def _error_code(response: schemathesis.Response) -> object:
    try:
        return response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.mark.slow
@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), print_blob=True)
def test_api(case: Case, sent_cases: Counter[str]) -> None:
    sent_cases[case.operation.label] += 1
    case.call_and_validate(checks=CHECKS)
