"""Builds the usage parts of a serving process from its container: the recorder and the rollups."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ragworks.config import Settings
from ragworks.observability.request_log import RotatingLineFile
from ragworks.usage.base import UsageRollups
from ragworks.usage.recorder import UsageRecorder
from ragworks.usage.tap import ServiceRoutes, UsageHooks

if TYPE_CHECKING:
    from ragworks.container import Container


def request_log_path(settings: Settings) -> Path:
    """``usage.log_path``, or ``<data_dir>/logs/requests.jsonl``."""
    return settings.usage.log_path or settings.data_dir / "logs" / "requests.jsonl"


def rollups_for(container: Container) -> UsageRollups | None:
    """The rollups in the container's database (None for a database without SQL)."""
    from ragworks.engines.store.sql import SqlDatabase
    from ragworks.engines.store.sql_usage import SqlUsageRollups

    database = container.core.stores.database
    if not isinstance(database, SqlDatabase):
        return None
    return SqlUsageRollups(database, top_queries_per_day=container.settings.usage.top_queries_per_day)


def start_usage(container: Container) -> UsageHooks | None:
    """Start recording the requests of the app on ``container`` (None when ``usage.enabled`` is off)."""
    usage = container.settings.usage
    if not usage.enabled:
        return None
    log_file = RotatingLineFile(request_log_path(container.settings), usage.log_max_bytes, usage.log_backups)
    recorder = UsageRecorder(
        log_file,
        rollups_for(container),
        flush_interval_s=usage.flush_interval_s,
        query_max_chars=usage.query_max_chars,
    )
    recorder.start()
    return UsageHooks(recorder, ServiceRoutes(container.registry))
