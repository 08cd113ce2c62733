"""The SQL condition that keeps a tenant to its own rows of ``jobs`` and ``events``."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Table, or_

from ragworks.domain import TenantView


def visible_to(table: Table, view: TenantView) -> ColumnElement[bool]:
    """Rows of ``view``'s collections, or marked with its tenant (a table with ``tenant`` and
    ``collection`` columns)."""
    mine = table.c.tenant == view.tenant
    if not view.collections:
        return mine
    return or_(mine, table.c.collection.in_(view.collections))
