"""Collections endpoints."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_create_get_list_delete(client: TestClient) -> None:
    assert client.post("/v1/collections", json={"name": "lifecycle", "language": "ko"}).status_code == 201
    assert client.get("/v1/collections/lifecycle").json()["language"] == "ko"
    names = [c["name"] for c in client.get("/v1/collections").json()["collections"]]
    assert "lifecycle" in names
    assert client.delete("/v1/collections/lifecycle").status_code == 204
    assert client.get("/v1/collections/lifecycle").status_code == 404


def test_duplicate_name_is_a_conflict(client: TestClient) -> None:
    client.post("/v1/collections", json={"name": "twice"})
    response = client.post("/v1/collections", json={"name": "twice"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


def test_invalid_name_is_rejected(client: TestClient) -> None:
    response = client.post("/v1/collections", json={"name": "../etc"})
    assert response.status_code == 400


def test_unknown_collection_in_retrieve_is_404(client: TestClient) -> None:
    response = client.post("/v1/retrieve", json={"query": "x", "collections": ["missing"]})
    assert response.status_code == 404
