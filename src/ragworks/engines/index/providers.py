"""Which search index each ``index.provider`` setting names (one line per provider)."""

from __future__ import annotations

from collections.abc import Callable

from ragworks.config import Settings
from ragworks.engines.index.base import SearchIndex


def _local(settings: Settings, dimension: int) -> SearchIndex:
    from ragworks.engines.index.local import LocalSearchIndex  # tantivy and usearch only when chosen

    return LocalSearchIndex(settings.index_dir, dimension)


def _postgres(settings: Settings, dimension: int) -> SearchIndex:
    from ragworks.engines.index.postgres import PostgresSearchIndex  # psycopg only when chosen

    url = settings.index.url or settings.store.url
    if not url or not url.startswith("postgres"):
        raise ValueError("index.provider 'postgres' needs a PostgreSQL index.url or store.url")
    return PostgresSearchIndex(url, dimension)


PROVIDERS: dict[str, Callable[[Settings, int], SearchIndex]] = {
    "local": _local,
    "postgres": _postgres,
}

# Providers whose index lives in files of one process's data dir: only the embedded role may use them.
PROCESS_LOCAL = frozenset({"local"})


def build_index(settings: Settings, dimension: int) -> SearchIndex:
    """The index the settings name, for ``dimension``-d vectors (cheap: it opens in ``start()``)."""
    return PROVIDERS[settings.index.provider](settings, dimension)
