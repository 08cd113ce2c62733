"""The embedded role (``ragworks serve``): API and job workers in one process that owns its data dir."""

from __future__ import annotations

from ragworks.config import Settings
from ragworks.container import Container
from ragworks.roles.parts import build_core, build_search


def build_embedded(settings: Settings) -> Container:
    """Everything in one process: the store, index, models, services and the in-process workers."""
    core = build_core(settings)
    return Container(core, build_search(core), run_jobs=True, exclusive=True)
