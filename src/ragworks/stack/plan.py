"""What ``ragworks up`` runs: the config and settings turned into process specs, in start order.

Tier 0 holds the servers (PostgreSQL unless ``store.url`` names a database, Redis when enabled, the
model service when ``[stack] model_service`` is on: the others then embed through it), tier 1
the API, tier 2 the workers and the stream consumers (when ``[stack] streams`` names a file); each process gets the settings through its environment, with the URL of
the stack's database and the PostgreSQL index filled in.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ragworks.config import Settings
from ragworks.engines.index.providers import PROCESS_LOCAL
from ragworks.stack import StackError
from ragworks.stack.config import StackConfig, resolve_settings, settings_env
from ragworks.stack.model_service import (
    CLIENT_PROVIDER,
    model_service_ports,
    model_service_spec,
    model_service_target,
)
from ragworks.stack.postgres import StackPostgres
from ragworks.stack.probes import Probe, connect_host, http_ok, log_says
from ragworks.stack.process import ProcessSpec
from ragworks.stack.redis import redis_spec, redis_url
from ragworks.stack.runfiles import RunDir
from ragworks.stack.supervisor import SupervisorOptions, check_ports

SHARED_INDEX = "postgres"  # the index provider every process of the stack reads and writes


@dataclass
class StackPlan:
    """Everything the supervisor of one stack needs."""

    run_dir: RunDir
    specs: list[ProcessSpec]
    options: SupervisorOptions
    api_url: str
    notes: list[str] = field(default_factory=list)  # what the user should know before it starts
    settings: Settings | None = None  # what the API and workers run with


def data_dir_of(config: StackConfig, source: Path | None) -> Path:
    """The stack's data dir, absolute (``[settings] data_dir``, else RAGWORKS_DATA_DIR, else ./data)."""
    return resolve_settings(config, source).data_dir.resolve()


def plan_stack(
    config: StackConfig, source: Path | None, workers: int | None = None, api_workers: int | None = None
) -> StackPlan:
    """Resolve the settings, create the PostgreSQL cluster when it is the stack's, and list the processes.

    Raises:
        StackError: a bad setting, missing PostgreSQL or Redis binaries, or engines the API and
            workers cannot share.
    """
    settings = resolve_settings(config, source)
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    run_dir = RunDir(data_dir / "run")
    run_dir.ensure()
    overrides: dict[str, Any] = {"data_dir": str(data_dir)}
    specs: list[ProcessSpec] = []
    notes: list[str] = []
    postgres = StackPostgres(config.postgres, data_dir) if settings.store.url is None else None
    if postgres is not None:
        specs.append(postgres.spec())
        overrides["store"] = {"url": postgres.url()}
    else:
        notes.append("using the database named by store.url (not started by the stack)")
    if settings.index.provider in PROCESS_LOCAL:
        overrides["index"] = {"provider": SHARED_INDEX}
    if config.redis.enabled:
        specs.append(redis_spec(config.redis, data_dir))
        overrides["redis"] = {"url": redis_url(config.redis)}
        overrides["embed"] = {"query_cache": "redis"}  # query vectors shared by the API processes
    else:
        notes.append("Redis: off (redis.enabled = false; query vectors are cached per process)")
    if config.stack.model_service:
        # the service itself embeds in-process: it gets the settings as they are, the others a client
        served = _child_settings(config, overrides)
        ports = model_service_ports(served)
        specs.append(model_service_spec(served, _env(config, overrides), ports))
        embed = overrides.setdefault("embed", {})
        embed |= {"provider": CLIENT_PROVIDER, "url": model_service_target(served, ports[0])}
    child = _child_settings(config, overrides)
    env = _env(config, overrides)
    _prepare_data_dir(child)

    stack = config.stack
    specs.append(_api_spec(child, env, stack.api_workers if api_workers is None else api_workers))
    specs += _worker_specs(child, env, run_dir, stack.workers if workers is None else workers)
    if stack.streams is not None:
        specs += _consumer_specs(child, _streams_file(stack.streams, source), env, run_dir, stack.consumers)
    check_ports(specs)  # before the slow part: a taken port fails at once
    if postgres is not None and postgres.prepare():
        notes.append(f"created a PostgreSQL cluster in {postgres.data}")
    options = SupervisorOptions(
        ready_timeout_s=stack.ready_timeout_s,
        stop_timeout_s=stack.stop_timeout_s,
        restart_delay_s=stack.restart_delay_s,
        restart_delay_max_s=stack.restart_delay_max_s,
        log_max_bytes=stack.log_max_bytes,
        log_backups=stack.log_backups,
    )
    return StackPlan(run_dir, specs, options, _api_url(child), notes, child)


PYTHON = [sys.executable, "-m", "ragworks"]


def _env(config: StackConfig, overrides: dict[str, Any]) -> dict[str, str]:
    """The environment of a child: this one, then ``[settings]``, then the stack's overrides."""
    return {**os.environ, **settings_env(config.settings), **settings_env(overrides), "PYTHONUNBUFFERED": "1"}


def _api_url(settings: Settings) -> str:
    return f"http://{connect_host(settings.server.host)}:{settings.server.port}"


def _api_spec(settings: Settings, env: dict[str, str], http_workers: int) -> ProcessSpec:
    """``ragworks api --workers M``, ready when ``GET /ready`` answers 200."""
    server = settings.server
    return ProcessSpec(
        "api",
        [*PYTHON, "api", "--workers", str(http_workers)],
        env=env | {"RAGWORKS_SERVER__HOST": server.host, "RAGWORKS_SERVER__PORT": str(server.port)},
        tier=1,
        host=server.host,
        port=server.port,
        ready=http_ok(f"{_api_url(settings)}/ready"),
        setting="settings.server.port or RAGWORKS_SERVER__PORT",
    )


def _worker_specs(settings: Settings, env: dict[str, str], run_dir: RunDir, count: int) -> list[ProcessSpec]:
    """``count`` times ``ragworks worker``; with ``jobs.metrics_port`` set, worker N serves its metrics
    on that port + N - 1 (one port cannot serve them all)."""
    base_port = settings.jobs.metrics_port
    specs = []
    for n in range(1, count + 1):
        name = f"worker-{n}"
        ready = _logs_ready(settings, run_dir, name, "worker started")
        worker_env = env | {"RAGWORKS_JOBS__METRICS_PORT": str(base_port + n - 1)} if base_port else env
        specs.append(ProcessSpec(name, [*PYTHON, "worker"], env=worker_env, tier=2, ready=ready))
    return specs


def _logs_ready(settings: Settings, run_dir: RunDir, name: str, line: str) -> Probe | None:
    """Ready once the process logs ``line`` (INFO, after its engines started); with a quieter log
    level, as soon as it runs."""
    if logging.getLevelNamesMapping().get(settings.log_level.upper(), 0) > logging.INFO:
        return None
    return log_says(run_dir.log_path(name), line)


def _streams_file(path: Path, source: Path | None) -> Path:
    """The streams file, relative to the stack's config file, checked now (StackError when invalid)."""
    from ragworks.streams.config import ConfigError, load_streams_config

    resolved = path if path.is_absolute() or source is None else source.parent / path
    try:
        load_streams_config(resolved)
    except ConfigError as exc:
        raise StackError(f"[stack] streams: {exc}") from None
    return resolved.resolve()


def _consumer_specs(
    settings: Settings, streams: Path, env: dict[str, str], run_dir: RunDir, count: int
) -> list[ProcessSpec]:
    """``count`` times ``ragworks consume``, each under its own stable name in the consumer groups (a
    restarted consumer gets back the messages it had not acknowledged)."""
    specs = []
    for n in range(1, count + 1):
        name = f"consumer-{n}"
        specs.append(
            ProcessSpec(
                name,
                [*PYTHON, "consume", "--config", str(streams)],
                env=env | {"RAGWORKS_CONSUMER_NAME": name},
                tier=2,
                ready=_logs_ready(settings, run_dir, name, "consumer started"),
            )
        )
    return specs


def _child_settings(config: StackConfig, overrides: dict[str, Any]) -> Settings:
    """The settings each process will read, checked here so a mistake fails once, not in every child."""
    from ragworks.roles.shared import require_shared_engines

    merged = _merge(config.settings, overrides)
    try:
        settings = Settings(**merged)
        require_shared_engines(settings, "api")
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise StackError(f"the stack's processes would refuse their settings: {problems}") from None
    except ValueError as exc:
        raise StackError(str(exc)) from None
    return settings


def _prepare_data_dir(settings: Settings) -> None:
    """Create what the processes would otherwise race to create (each would write its own secret)."""
    from ragworks.jobs.callbacks import load_secret

    load_secret(settings)


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged
