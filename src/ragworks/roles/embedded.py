"""The embedded role (``ragworks serve``): API and job workers in one process."""

from __future__ import annotations

from ragworks.config import Settings
from ragworks.container import Container
from ragworks.engines.index.providers import PROCESS_LOCAL
from ragworks.roles.parts import build_core, build_search


def build_embedded(settings: Settings) -> Container:
    """Everything in one process: the store, index, models, services and the in-process workers.

    On its own engines (a SQLite file and index files in the data dir) the process owns them: it locks
    the data dir, repairs the index at start and takes back every job left running. Pointed at a shared
    PostgreSQL it behaves as one process among others (expired leases only, no repair).
    """
    owns_engines = settings.database_url.startswith("sqlite") and settings.index.provider in PROCESS_LOCAL
    core = build_core(settings)
    return Container(core, build_search(core), run_jobs=True, exclusive=owns_engines)
