"""Key secrets never reach a log: the request log and every log record of a real app with auth on,
after requests that send keys both ways, a wrong secret, and a key made over HTTP."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from helpers.auth import bearer
from ragworks.app import create_app
from ragworks.auth.admin import KeyAdmin, KeyRequest
from ragworks.auth.keys import format_key, parse_key
from ragworks.auth.wiring import key_store_for
from ragworks.config import AuthSettings, LLMSettings, Settings, UsageSettings
from ragworks.observability.logging import extra_fields


def test_no_log_holds_a_key_secret(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    log_path = tmp_path / "requests.jsonl"
    settings = Settings(
        data_dir=tmp_path / "data",
        llm=LLMSettings(provider="extractive"),
        auth=AuthSettings(enabled=True),
        usage=UsageSettings(log_path=log_path),
    )
    secrets: list[str] = []
    with TestClient(create_app(settings)) as client:
        container = client.app.state.container  # type: ignore[attr-defined]
        admin, admin_key = KeyAdmin(key_store_for(container.core.stores)).create(
            KeyRequest("ops", admin=True)
        )
        made = client.post(
            "/v1/admin/keys",
            json={"name": "acme", "tenant": "acme", "scope": "write"},
            headers=bearer(admin_key),
        ).json()
        tenant_key = made["key"]
        assert client.get("/v1/collections", headers=bearer(tenant_key)).status_code == 200
        assert client.get("/v1/collections", headers={"X-API-Key": tenant_key}).status_code == 200
        assert client.get("/metrics", headers=bearer(admin_key)).status_code == 200
        wrong = format_key(made["id"], "a-guessed-secret")
        assert client.get("/v1/collections", headers=bearer(wrong)).status_code == 401
        for key in (admin_key, tenant_key):
            parsed = parse_key(key)
            assert parsed is not None
            secrets.append(parsed[1])
        secrets.append("a-guessed-secret")
    # leaving the client stopped the app: the request log is flushed

    lines = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert {line["api_key"] for line in lines} >= {admin.id, made["id"]}  # the ids are there
    logged = log_path.read_text() + "\n".join(
        f"{record.getMessage()} {extra_fields(record)} {record.exc_text or ''}" for record in caplog.records
    )
    assert caplog.records  # the access log was captured
    for secret in secrets:
        assert secret not in logged
    assert "authorization" not in logged.lower() and "x-api-key" not in logged.lower()
