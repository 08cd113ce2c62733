"""Translate metadata filters into SQL conditions on the ``documents.metadata`` JSON column."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import Boolean, ColumnElement, Float, String, and_, not_, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import FunctionElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeEngine

from ragworks.domain import FieldFilter
from ragworks.engines.store.schema import documents
from ragworks.errors import BadRequest

JsonKind = Literal["boolean", "number", "string"]
_SQL_TYPES: dict[JsonKind, TypeEngine[Any]] = {"boolean": Boolean(), "number": Float(), "string": String()}
_POSTGRES_CASTS: dict[JsonKind, str] = {"boolean": "boolean", "number": "double precision", "string": "text"}


class MetadataValue(FunctionElement[Any]):
    """``documents.metadata[field]`` as an SQL value of one JSON kind (NULL when absent).

    On SQLite this is the JSON path cast as SQLAlchemy casts it (unchanged behaviour). PostgreSQL
    refuses to cast a string that is not a number, so there a value of another kind is NULL, which
    matches no comparison: a filter never fails on a document whose field has another type.
    """

    name = "metadata_value"
    inherit_cache = True
    # the kind changes the SQL, so it is part of the statement cache key (the field is a bound
    # parameter of the JSON path, which is this element's one argument)
    _traverse_internals = [*FunctionElement._traverse_internals, ("kind", InternalTraversal.dp_string)]

    def __init__(self, field: str, kind: JsonKind) -> None:
        self.kind = kind
        self.type = _SQL_TYPES[kind]
        super().__init__(documents.c.metadata[field])

    @property
    def path(self) -> Any:
        """The ``metadata[field]`` JSON element."""
        return self.clauses.clauses[0]


@compiles(MetadataValue)
def _compile_default(element: MetadataValue, compiler: SQLCompiler, **kw: Any) -> str:
    casts = {
        "boolean": element.path.as_boolean,
        "number": element.path.as_float,
        "string": element.path.as_string,
    }
    return compiler.process(casts[element.kind](), **kw)


@compiles(MetadataValue, "postgresql")
def _compile_postgres(element: MetadataValue, compiler: SQLCompiler, **kw: Any) -> str:
    value = compiler.process(element.path, **kw)
    text = compiler.process(element.path.as_string(), **kw)
    kind, cast = element.kind, _POSTGRES_CASTS[element.kind]
    return f"(CASE WHEN json_typeof({value}) = '{kind}' THEN CAST({text} AS {cast}) END)"


def _kind(field: str, sample: Any) -> JsonKind:
    """The JSON kind a filter value compares with."""
    if isinstance(sample, bool):
        return "boolean"
    if isinstance(sample, int | float):
        return "number"
    if isinstance(sample, str):
        return "string"
    raise BadRequest(f"filter on '{field}': values must be strings, numbers or booleans, got {sample!r}")


def _operand(kind: JsonKind, value: Any) -> Any:
    """``value`` as bound: numbers as floats, so every number of a filter binds as one SQL type (an
    integer's type would truncate the 2024.5 of ``in [2020, 2024.5]`` on PostgreSQL)."""
    return float(value) if kind == "number" else value


def _condition(f: FieldFilter) -> ColumnElement[bool]:
    if f.op == "in":
        values = f.value
        if not isinstance(values, list) or not values:
            raise BadRequest(f"filter on '{f.field}': 'in' needs a non-empty list")
        by_kind: dict[JsonKind, list[Any]] = {}
        for value in values:  # a list of mixed kinds compares each kind with its own values
            kind = _kind(f.field, value)
            by_kind.setdefault(kind, []).append(_operand(kind, value))
        return or_(*(MetadataValue(f.field, kind).in_(group) for kind, group in by_kind.items()))
    kind = _kind(f.field, f.value)
    column, value = MetadataValue(f.field, kind), _operand(kind, f.value)
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
    result: ColumnElement[bool] = comparisons[f.op](column, value)
    if f.op == "ne":
        # a document without the field also counts as "not equal"
        result = not_(column.is_not(None) & (column == value))
    return result


def metadata_condition(filters: Sequence[FieldFilter]) -> ColumnElement[bool]:
    """All filters combined with AND."""
    return and_(*(_condition(f) for f in filters))
