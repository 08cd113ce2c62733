"""What every role of the scaled profile checks: the engines it names can be shared by processes."""

from __future__ import annotations

from ragworks.config import Settings
from ragworks.engines.index.providers import PROCESS_LOCAL


def require_shared_engines(settings: Settings, role: str) -> None:
    """Raise ValueError, saying what to set, when ``settings`` name a process-local store or index."""
    problems = []
    if settings.database_url.startswith("sqlite"):
        problems.append("store.url must name a shared database (postgresql+psycopg://...)")
    if settings.index.provider in PROCESS_LOCAL:
        problems.append(f"index.provider '{settings.index.provider}' keeps files of one process")
    if problems:
        raise ValueError(
            f"the {role} role runs beside other processes: {'; '.join(problems)}. "
            "Use `ragworks serve` for everything in one process."
        )
