"""`ragworks up` with `[stack] model_service = true`: model-serve first, everyone else its client."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ragworks.stack import StackError
from ragworks.stack.config import RedisSection, StackConfig, StackSection
from ragworks.stack.plan import plan_stack

OWN_DATABASE = "postgresql+psycopg://app:secret@127.0.0.1:1/app"  # never connected to by a plan


@pytest.fixture
def data_dir() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="ragworks-plan-ms-"))
    yield folder / "data"
    shutil.rmtree(folder, ignore_errors=True)


def _config(data_dir: Path, **settings: object) -> StackConfig:
    config = StackConfig(settings={"data_dir": str(data_dir), "store": {"url": OWN_DATABASE}, **settings})
    config.stack = StackSection(workers=2, model_service=True)
    return config


def test_the_model_service_starts_in_tier_0_before_api_and_workers(data_dir: Path) -> None:
    plan = plan_stack(_config(data_dir, model_service={"grpc_port": 50123, "http_port": 8123}), None)

    assert [(s.name, s.tier) for s in plan.specs] == [
        ("model-service", 0),
        ("api", 1),
        ("worker-1", 2),
        ("worker-2", 2),
    ]
    served = plan.specs[0]
    assert list(served.argv) == [sys.executable, "-m", "ragworks", "model-serve"]
    assert served.port == 50123 and served.ready is not None
    assert served.env is not None
    assert served.env["RAGWORKS_MODEL_SERVICE__GRPC_PORT"] == "50123"
    assert served.env["RAGWORKS_MODEL_SERVICE__HTTP_PORT"] == "8123"


def test_api_and_workers_embed_through_the_model_service(data_dir: Path) -> None:
    plan = plan_stack(_config(data_dir, model_service={"grpc_port": 50124}), None)

    for spec in plan.specs[1:]:
        assert spec.env is not None
        assert spec.env["RAGWORKS_EMBED__PROVIDER"] == "remote", spec.name
        assert spec.env["RAGWORKS_EMBED__URL"] == "127.0.0.1:50124", spec.name


def test_the_model_service_itself_embeds_in_process(data_dir: Path) -> None:
    plan = plan_stack(_config(data_dir), None)

    served = plan.specs[0]
    assert served.env is not None
    assert served.env.get("RAGWORKS_EMBED__PROVIDER", "minilm") == "minilm"
    assert "RAGWORKS_EMBED__URL" not in served.env


def test_port_zero_is_chosen_once_and_shared_with_the_clients(data_dir: Path) -> None:
    plan = plan_stack(_config(data_dir, model_service={"grpc_port": 0, "http_port": 0}), None)

    served, api = plan.specs[0], plan.specs[1]
    assert served.port is not None and served.port > 0
    assert served.env is not None and api.env is not None
    assert api.env["RAGWORKS_EMBED__URL"] == f"127.0.0.1:{served.port}"
    assert int(served.env["RAGWORKS_MODEL_SERVICE__HTTP_PORT"]) > 0


def test_redis_and_the_model_service_both_set_the_embed_settings(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = data_dir.parent / "bin"
    fake.mkdir(parents=True)
    (fake / "redis-server").write_text("#!/bin/sh\n")
    (fake / "redis-server").chmod(0o755)
    monkeypatch.setenv("PATH", str(fake))
    config = _config(data_dir, model_service={"grpc_port": 50125})
    config.redis = RedisSection(enabled=True, port=6391)

    plan = plan_stack(config, None)

    api = next(s for s in plan.specs if s.name == "api")
    assert [s.name for s in plan.specs if s.tier == 0] == ["redis", "model-service"]
    assert api.env is not None
    assert api.env["RAGWORKS_EMBED__QUERY_CACHE"] == "redis"
    assert api.env["RAGWORKS_EMBED__PROVIDER"] == "remote"


def test_another_embedder_in_the_settings_is_refused(data_dir: Path) -> None:
    config = _config(data_dir, embed={"provider": "openai", "base_url": "http://127.0.0.1:1/v1"})

    with pytest.raises(StackError, match=r"model_service = true serves the bundled embedder.*'openai'"):
        plan_stack(config, None)


def test_without_the_option_nothing_changes(data_dir: Path) -> None:
    config = _config(data_dir)
    config.stack = StackSection(workers=1)

    plan = plan_stack(config, None)

    assert [s.name for s in plan.specs] == ["api", "worker-1"]
    assert plan.specs[0].env is not None
    assert "RAGWORKS_EMBED__PROVIDER" not in plan.specs[0].env
