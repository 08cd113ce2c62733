"""A real ragworks app (real model, index, SQLite, parser processes) shared by the API tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from ragworks.app import create_app
from ragworks.config import JobSettings, LLMSettings, Settings


@pytest.fixture(scope="package")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One started app (without a model) for the package; each test uses its own collection."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("data"),
        log_json=False,
        jobs=JobSettings(poll_interval_s=0.1, backoff_base_s=0.05, backoff_max_s=0.2, max_attempts=2),
        llm=LLMSettings(provider="extractive"),  # these tests need no model
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def collection(client: TestClient, request: pytest.FixtureRequest) -> str:
    """A fresh collection named after the test."""
    name = request.node.name.lower().replace("[", "-").replace("]", "")[:60].strip("-_")
    response = client.post("/v1/collections", json={"name": name})
    assert response.status_code == 201, response.text
    return name
