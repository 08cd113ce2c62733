"""Translate metadata filters into SQL conditions on the ``documents.metadata`` JSON column."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, not_

from ragworks.domain import FieldFilter
from ragworks.engines.store.schema import documents
from ragworks.errors import BadRequest


def _typed(field: str, sample: Any) -> Any:
    """The JSON path cast to the SQL type that matches the Python value."""
    element = documents.c.metadata[field]
    if isinstance(sample, bool):
        return element.as_boolean()
    if isinstance(sample, int | float):
        return element.as_float()
    if isinstance(sample, str):
        return element.as_string()
    raise BadRequest(f"filter on '{field}': values must be strings, numbers or booleans, got {sample!r}")


def _condition(f: FieldFilter) -> ColumnElement[bool]:
    if f.op == "in":
        values = f.value
        if not isinstance(values, list) or not values:
            raise BadRequest(f"filter on '{f.field}': 'in' needs a non-empty list")
        return _typed(f.field, values[0]).in_(values)  # type: ignore[no-any-return]
    column = _typed(f.field, f.value)
    comparisons: dict[str, Any] = {
        "eq": lambda c, v: c == v,
        "ne": lambda c, v: c != v,
        "gt": lambda c, v: c > v,
        "gte": lambda c, v: c >= v,
        "lt": lambda c, v: c < v,
        "lte": lambda c, v: c <= v,
    }
    if f.op not in comparisons:
        raise BadRequest(f"filter on '{f.field}': unknown operator '{f.op}'")
    result: ColumnElement[bool] = comparisons[f.op](column, f.value)
    if f.op == "ne":
        # a document without the field also counts as "not equal"
        result = not_(column.is_not(None) & (column == f.value))
    return result


def metadata_condition(filters: Sequence[FieldFilter]) -> ColumnElement[bool]:
    """All filters combined with AND."""
    return and_(*(_condition(f) for f in filters))
