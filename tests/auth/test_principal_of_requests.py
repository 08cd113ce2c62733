"""Which principal the middleware hands the routes, and what usage records of it: the middleware around
a small endpoint that reports what it sees, over a real SQLite key store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from helpers.auth import bearer
from ragworks.auth.admin import KeyAdmin, KeyRequest
from ragworks.auth.middleware import AuthMiddleware, presented_key
from ragworks.auth.verifier import KeyVerifier
from ragworks.engines.store.sql_keys import SqlKeyStore
from ragworks.usage.context import RequestFacts, request_facts_var


async def whoami(request: Request) -> JSONResponse:
    principal = request.state.principal
    facts = request_facts_var.get()
    return JSONResponse(
        {
            "key_id": principal.key_id,
            "tenant": principal.tenant,
            "scopes": sorted(principal.scopes),
            "noted_key": facts.api_key if facts is not None else None,
        }
    )


class WithFacts:
    """What the request middleware does for usage: a fresh RequestFacts per request."""

    def __init__(self, app: AuthMiddleware) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):  # type: ignore[no-untyped-def]
        token = request_facts_var.set(RequestFacts())
        try:
            await self.app(scope, receive, send)
        finally:
            request_facts_var.reset(token)


def client_for(verifier: KeyVerifier | None, public_metrics: bool = False) -> TestClient:
    routes = [Route(path, whoami) for path in ("/v1/whoami", "/metrics", "/health", "/ui/{rest:path}")]
    app = AuthMiddleware(Starlette(routes=routes), verifier, public_metrics=public_metrics)
    return TestClient(WithFacts(app))


@pytest.fixture
def verifier(key_store: SqlKeyStore) -> KeyVerifier:
    return KeyVerifier(key_store, ttl_s=5)


@pytest.fixture
def client(verifier: KeyVerifier) -> Iterator[TestClient]:
    with client_for(verifier) as test_client:
        yield test_client


def test_with_auth_off_every_request_is_the_local_operator() -> None:
    with client_for(None) as client:
        seen = client.get("/v1/whoami").json()

    assert seen == {"key_id": None, "tenant": None, "scopes": ["admin"], "noted_key": None}


def test_a_keyed_request_acts_as_its_key_and_usage_notes_the_id(client: TestClient, keys: KeyAdmin) -> None:
    made, key = keys.create(KeyRequest("k", tenant="acme", scope="write"))

    seen = client.get("/v1/whoami", headers=bearer(key)).json()

    assert seen == {"key_id": made.id, "tenant": "acme", "scopes": ["write"], "noted_key": made.id}


def test_open_paths_run_with_no_scope_at_all(client: TestClient, keys: KeyAdmin) -> None:
    _, admin = keys.create(KeyRequest("ops", admin=True))

    for path in ("/health", "/ui/anything"):
        seen = client.get(path, headers=bearer(admin)).json()
        assert (seen["key_id"], seen["scopes"]) == (None, [])


def test_public_metrics_need_no_key(verifier: KeyVerifier) -> None:
    with client_for(verifier, public_metrics=True) as client:
        assert client.get("/metrics").status_code == 200
        assert client.get("/v1/whoami").status_code == 401


def test_bearer_wins_over_x_api_key_whatever_the_header_case() -> None:
    assert presented_key([(b"x-api-key", b"rw_b"), (b"authorization", b"bearer rw_a")]) == "rw_a"
    assert presented_key([(b"X-API-Key", b" rw_b ")]) == "rw_b"
    assert presented_key([]) is None


def test_an_empty_bearer_counts_as_a_missing_key(client: TestClient) -> None:
    response = client.get("/v1/whoami", headers={"Authorization": "Bearer "})

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "missing_api_key"
