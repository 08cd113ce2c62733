"""``/v1/admin/keys`` in the real app with auth on: admin keys make, list and revoke keys; others get 403."""

from __future__ import annotations

from fastapi.testclient import TestClient

from helpers.auth import bearer
from ragworks.auth.admin import KeyAdmin, KeyRequest
from ragworks.auth.keys import parse_key


def test_an_admin_makes_a_tenant_key_that_works_at_once(app_client: TestClient, admin_key: str) -> None:
    response = app_client.post(
        "/v1/admin/keys",
        json={"name": "acme ingest", "tenant": "acme", "scope": "write", "collections": ["hr"]},
        headers=bearer(admin_key),
    )

    assert response.status_code == 201, response.text
    made = response.json()
    assert (made["tenant"], made["scopes"], made["collections"], made["state"]) == (
        "acme",
        ["write"],
        ["hr"],
        "active",
    )
    parsed = parse_key(made["key"])
    assert parsed is not None and parsed[0] == made["id"]
    assert app_client.get("/v1/collections", headers=bearer(made["key"])).status_code == 200


def test_the_list_never_shows_a_secret(app_client: TestClient, admin_key: str, app_keys: KeyAdmin) -> None:
    made, full_key = app_keys.create(KeyRequest("listed", tenant="listing"))

    response = app_client.get("/v1/admin/keys", params={"tenant": "listing"}, headers=bearer(admin_key))

    assert response.status_code == 200
    listed = response.json()["keys"]
    assert [k["id"] for k in listed] == [made.id]
    assert "key" not in listed[0] and "secret_hash" not in listed[0]
    parsed = parse_key(full_key)
    assert parsed is not None and parsed[1] not in response.text


def test_revoking_stops_the_key(app_client: TestClient, admin_key: str, app_keys: KeyAdmin) -> None:
    made, key = app_keys.create(KeyRequest("short-lived", tenant="acme"))

    response = app_client.delete(f"/v1/admin/keys/{made.id}", headers=bearer(admin_key))

    assert response.status_code == 200
    assert response.json()["state"] == "revoked"
    assert app_client.get("/v1/collections", headers=bearer(key)).status_code == 401


def test_revoking_an_unknown_key_is_404(app_client: TestClient, admin_key: str) -> None:
    response = app_client.delete("/v1/admin/keys/ffffffffffff", headers=bearer(admin_key))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_tenant_keys_are_forbidden(app_client: TestClient, app_keys: KeyAdmin) -> None:
    _, writer = app_keys.create(KeyRequest("writer", tenant="acme", scope="write"))
    headers = bearer(writer)

    for response in (
        app_client.get("/v1/admin/keys", headers=headers),
        app_client.post("/v1/admin/keys", json={"name": "x", "admin": True}, headers=headers),
        app_client.delete("/v1/admin/keys/ffffffffffff", headers=headers),
    ):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"


def test_no_key_is_401(app_client: TestClient) -> None:
    assert app_client.get("/v1/admin/keys").status_code == 401


def test_an_invalid_request_is_refused(app_client: TestClient, admin_key: str) -> None:
    both = app_client.post(
        "/v1/admin/keys", json={"name": "x", "tenant": "acme", "admin": True}, headers=bearer(admin_key)
    )
    bad_tenant = app_client.post(
        "/v1/admin/keys", json={"name": "x", "tenant": "Not A Tenant"}, headers=bearer(admin_key)
    )

    assert both.status_code == 400
    assert bad_tenant.status_code == 422
