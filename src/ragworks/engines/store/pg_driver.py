"""psycopg 3, imported with an actionable message when the ``postgres`` extra is not installed."""

from __future__ import annotations

try:
    import psycopg
    from psycopg.types.string import StrDumperUnknown
except ImportError as exc:
    raise ImportError(
        "PostgreSQL support needs psycopg 3, which is not installed: pip install 'ragworks[postgres]'"
    ) from exc

__all__ = ["StrDumperUnknown", "psycopg"]
