"""The api role of the scaled profile (``ragworks api``): HTTP only, beside separate worker processes."""

from __future__ import annotations

import sys

from fastapi import FastAPI

from ragworks.app import create_app
from ragworks.config import Settings
from ragworks.container import Container
from ragworks.observability.logging import configure_logging
from ragworks.roles.parts import build_core, build_search
from ragworks.roles.shared import require_shared_engines


def build_api(settings: Settings) -> Container:
    """Store, index, models and services, no job workers: jobs go to the shared queue.

    Raises:
        ValueError: the settings name engines that only one process can use (a SQLite file, local
            index files).
    """
    require_shared_engines(settings, "api")
    core = build_core(settings)
    return Container(core, build_search(core), run_jobs=False, exclusive=False)


def create_api_app() -> FastAPI:
    """The app of one ``ragworks api`` process (uvicorn's factory: each process reads the settings)."""
    settings = Settings()
    configure_logging(settings.log_level, settings.log_json)
    sys.setswitchinterval(settings.server.switch_interval_ms / 1000)
    return create_app(container=build_api(settings), freeze_heap=settings.server.freeze_heap)
