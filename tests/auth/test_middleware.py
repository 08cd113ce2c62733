"""The auth middleware in the real app (auth on): open paths, 401s, key headers, /metrics."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from helpers.auth import bearer
from ragworks.auth.admin import KeyAdmin, KeyRequest
from ragworks.auth.keys import ApiKey, format_key, hash_secret, new_key
from ragworks.auth.wiring import key_store_for

OPEN = [
    "/health",
    "/ready",
    "/docs",
    "/redoc",
    "/openapi.json",
    "/docs/assets/swagger-ui.css",
    "/ui",
    "/ui/jobs",
    "/ui/assets/app.js",
]


@pytest.mark.parametrize("path", OPEN)
def test_open_paths_answer_without_a_key(app_client: TestClient, path: str) -> None:
    assert app_client.get(path).status_code == 200


def test_a_request_without_a_key_is_401_missing_api_key(app_client: TestClient) -> None:
    response = app_client.get("/v1/collections")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "missing_api_key"
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.headers["X-Request-ID"]  # answered inside the request context


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer rw_0123456789ab_no-such-key"},
        {"X-API-Key": "rw_0123456789ab_no-such-key"},
        {"Authorization": "Bearer not-a-key"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
    ids=["unknown-bearer", "unknown-x-api-key", "malformed", "basic"],
)
def test_an_invalid_key_is_401_invalid_api_key(app_client: TestClient, headers: dict[str, str]) -> None:
    response = app_client.get("/v1/collections", headers=headers)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_a_key_is_accepted_as_bearer_or_x_api_key(app_client: TestClient, app_keys: KeyAdmin) -> None:
    _, key = app_keys.create(KeyRequest("reader", tenant="acme"))

    assert app_client.get("/v1/collections", headers=bearer(key)).status_code == 200
    assert app_client.get("/v1/collections", headers={"X-API-Key": key}).status_code == 200


def test_a_wrong_secret_for_a_real_id_is_refused(app_client: TestClient, app_keys: KeyAdmin) -> None:
    made, key = app_keys.create(KeyRequest("reader", tenant="acme"))
    assert app_client.get("/v1/collections", headers=bearer(key)).status_code == 200

    forged = format_key(made.id, "guessed-secret")

    assert app_client.get("/v1/collections", headers=bearer(forged)).status_code == 401


def test_a_revoked_key_is_refused(app_client: TestClient, app_keys: KeyAdmin) -> None:
    made, key = app_keys.create(KeyRequest("reader", tenant="acme"))
    assert app_client.get("/v1/collections", headers=bearer(key)).status_code == 200

    app_keys.revoke(made.id)

    response = app_client.get("/v1/collections", headers=bearer(key))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_an_expired_key_is_refused(app_client: TestClient) -> None:
    container = app_client.app.state.container  # type: ignore[attr-defined]
    key_id, secret = new_key()
    now = time.time()
    expired = ApiKey(key_id, "old", "acme", ("read",), None, created_at=now - 100, expires_at=now - 1)
    key_store_for(container.core.stores).add(expired, hash_secret(secret))

    response = app_client.get("/v1/collections", headers=bearer(format_key(key_id, secret)))

    assert response.status_code == 401


def test_metrics_need_an_admin_key(app_client: TestClient, app_keys: KeyAdmin, admin_key: str) -> None:
    _, tenant_key = app_keys.create(KeyRequest("reader", tenant="acme"))

    assert app_client.get("/metrics").status_code == 401
    refused = app_client.get("/metrics", headers=bearer(tenant_key))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    scraped = app_client.get("/metrics", headers=bearer(admin_key))
    assert scraped.status_code == 200
    assert "http_requests_total" in scraped.text


def test_the_dashboard_s_data_needs_a_key(app_client: TestClient, admin_key: str) -> None:
    assert app_client.get("/v1/admin/overview").status_code == 401
    assert app_client.get("/v1/admin/overview", headers=bearer(admin_key)).status_code == 200
