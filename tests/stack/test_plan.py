"""What `ragworks up` would run: servers, API and workers in tiers, each given the settings."""

from __future__ import annotations

import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ragworks.engines.index.providers import PROVIDERS
from ragworks.stack import StackError
from ragworks.stack.config import RedisSection, StackConfig, StackSection
from ragworks.stack.plan import plan_stack

OWN_DATABASE = "postgresql+psycopg://app:secret@127.0.0.1:1/app"  # never connected to by a plan

needs_shared_index = pytest.mark.skipif(
    "postgres" not in PROVIDERS, reason="the PostgreSQL index provider is not registered yet"
)


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A data dir PostgreSQL's account can reach when the tests run as root."""
    folder = Path(tempfile.mkdtemp(prefix="ragworks-plan-"))
    folder.chmod(0o755)
    yield folder / "data"
    shutil.rmtree(folder, ignore_errors=True)


def _config(data_dir: Path, **settings: object) -> StackConfig:
    return StackConfig(settings={"data_dir": str(data_dir), **settings})


@needs_shared_index
def test_the_api_and_workers_get_the_shared_engines(data_dir: Path) -> None:
    config = _config(data_dir, store={"url": OWN_DATABASE}, server={"port": 9123})
    config.stack = StackSection(workers=3)
    plan = plan_stack(config, None, api_workers=2)
    assert [(s.name, s.tier) for s in plan.specs] == [
        ("api", 1),
        ("worker-1", 2),
        ("worker-2", 2),
        ("worker-3", 2),
    ]
    api = plan.specs[0]
    assert list(api.argv) == [sys.executable, "-m", "ragworks", "api", "--workers", "2"]
    assert api.port == 9123 and plan.api_url == "http://127.0.0.1:9123"
    assert api.env is not None
    assert api.env["RAGWORKS_STORE__URL"] == OWN_DATABASE
    assert api.env["RAGWORKS_INDEX__PROVIDER"] == "postgres"
    assert api.env["RAGWORKS_DATA_DIR"] == str(data_dir.resolve())
    assert plan.run_dir.root == data_dir.resolve() / "run"
    assert (data_dir / "callback.secret").exists()  # made once, before the processes race for it
    assert any("store.url" in note for note in plan.notes)


@needs_shared_index
def test_without_store_url_the_stack_runs_postgres_first(data_dir: Path) -> None:
    plan = plan_stack(_config(data_dir), None, workers=1)
    assert [s.name for s in plan.specs] == ["postgres", "api", "worker-1"]
    postgres, api = plan.specs[0], plan.specs[1]
    assert postgres.tier == 0 and postgres.port is not None
    assert api.env is not None
    assert f"@127.0.0.1:{postgres.port}/ragworks" in api.env["RAGWORKS_STORE__URL"]
    assert (data_dir / "postgres" / "PG_VERSION").exists()


@needs_shared_index
def test_quiet_logs_make_workers_ready_once_running(data_dir: Path) -> None:
    plan = plan_stack(_config(data_dir, store={"url": OWN_DATABASE}, log_level="WARNING"), None, workers=1)
    assert plan.specs[-1].ready is None


@needs_shared_index
def test_settings_the_processes_would_refuse_stop_the_plan(data_dir: Path) -> None:
    with pytest.raises(StackError, match="store.url must name a shared database"):
        plan_stack(_config(data_dir, store={"url": f"sqlite:///{data_dir}/x.db"}), None)


def test_redis_asked_for_but_missing_is_explained(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(data_dir))  # no redis-server anywhere
    config = _config(data_dir, store={"url": OWN_DATABASE})
    config.redis = RedisSection(enabled=True)
    with pytest.raises(
        StackError, match=r"redis-server. is not on PATH: install it \(Debian/Ubuntu: apt-get"
    ):
        plan_stack(config, None)


@needs_shared_index
def test_a_taken_port_fails_before_postgres_is_created(data_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(
            StackError, match=rf"cannot start api: port {port} .* \(set settings\.server\.port or"
        ):
            plan_stack(_config(data_dir, server={"port": port}), None)
    assert not (data_dir / "postgres").exists()


def test_a_streams_file_adds_named_consumers(data_dir: Path) -> None:
    streams = data_dir.parent / "streams.toml"
    streams.write_text('[[sources]]\nurl = "redis://127.0.0.1:1/0"\nstream = "docs"\ncollection = "news"\n')
    config = _config(data_dir, store={"url": OWN_DATABASE})
    config.stack = StackSection(workers=1, streams=Path("streams.toml"), consumers=2)
    plan = plan_stack(config, data_dir.parent / "ragworks.toml")  # relative to the config file
    consumers = [s for s in plan.specs if s.name.startswith("consumer-")]
    assert [(s.name, s.tier) for s in consumers] == [("consumer-1", 2), ("consumer-2", 2)]
    assert list(consumers[0].argv)[-3:] == ["consume", "--config", str(streams.resolve())]
    assert consumers[1].env is not None and consumers[1].env["RAGWORKS_CONSUMER_NAME"] == "consumer-2"
    assert consumers[1].env["RAGWORKS_STORE__URL"] == OWN_DATABASE


def test_a_bad_streams_file_stops_the_plan(data_dir: Path) -> None:
    streams = data_dir.parent / "streams.toml"
    streams.write_text('[[sources]]\nurl = "redis://h"\nstream = "docs"\n')  # no collection
    config = _config(data_dir, store={"url": OWN_DATABASE})
    config.stack = StackSection(streams=streams)
    with pytest.raises(StackError, match=r"\[stack\] streams: .*needs `collection`"):
        plan_stack(config, None)


def test_each_worker_gets_its_own_metrics_port(data_dir: Path) -> None:
    config = _config(data_dir, store={"url": OWN_DATABASE}, jobs={"metrics_port": 9400})
    config.stack = StackSection(workers=3)
    plan = plan_stack(config, None)
    ports = [
        s.env["RAGWORKS_JOBS__METRICS_PORT"] for s in plan.specs if s.name.startswith("worker-") and s.env
    ]
    assert ports == ["9400", "9401", "9402"]
