"""Explicit Schemathesis cases with the values generated ones seldom hold: a NUL character in a string
(PostgreSQL refuses it in text), JSON nested too deep for Python's decoder (in parameters that carry
JSON, such as filters and cursors) and integers just past the signed 64-bit range (SQLite and PostgreSQL
refuse them), one path or query parameter at a time, then in every string or every integer of the body.

``add_hostile_cases`` is a ``before_add_examples`` hook: each operation's explicit examples (one filled
in by Schemathesis when the schema has none) are followed by their hostile variants.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from schemathesis import Case, HookContext

NUL_TEXT = "nul\x00inside"
DEEP_JSON = "[" * 10_000
HUGE_INTEGERS = (2**63, -(2**63) - 1)


def add_hostile_cases(context: HookContext, examples: list[Case]) -> None:
    """Append the hostile variants of the operation's first explicit example."""
    if context.operation is None or not examples:
        return
    base = examples[0]
    examples.extend(_parameter_variants(base))
    examples.extend(_body_variants(base))


def _parameter_variants(base: Case) -> list[Case]:
    variants = []
    for parameter in base.operation.iter_parameters():
        location = str(parameter.location.value)
        if location not in ("path", "query"):
            continue
        types = _types(parameter.definition.get("schema", {}))
        values: list[Any] = [NUL_TEXT, DEEP_JSON] if "string" in types else []
        values += list(HUGE_INTEGERS) if "integer" in types else []
        for value in values:
            if location == "path":
                variants.append(_copy(base, path_parameters={**base.path_parameters, parameter.name: value}))
            else:
                variants.append(_copy(base, query={**(base.query or {}), parameter.name: value}))
    return variants


def _body_variants(base: Case) -> list[Case]:
    if not isinstance(base.body, dict | list):
        return []
    variants = []
    with_nul = _map_leaves(base.body, lambda v: v + NUL_TEXT if isinstance(v, str) else v)
    if with_nul != base.body:
        variants.append(_copy(base, body=with_nul))
        variants.append(
            _copy(base, body=_map_leaves(base.body, lambda v: DEEP_JSON if isinstance(v, str) else v))
        )
    for huge in HUGE_INTEGERS:
        with_huge = _map_leaves(base.body, lambda v, n=huge: n if _is_integer(v) else v)
        if with_huge != base.body:
            variants.append(_copy(base, body=with_huge))
    return variants


def _types(schema: dict[str, Any]) -> set[str]:
    """The JSON types a parameter's schema allows (``anyOf`` of FastAPI's optional parameters included)."""
    declared = schema.get("type")
    found = set(declared) if isinstance(declared, list) else {declared} if declared else set()
    for option in schema.get("anyOf", []) + schema.get("oneOf", []):
        found |= _types(option)
    return found


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _map_leaves(value: Any, change: Callable[[Any], Any]) -> Any:
    if isinstance(value, dict):
        return {key: _map_leaves(item, change) for key, item in value.items()}
    if isinstance(value, list):
        return [_map_leaves(item, change) for item in value]
    return change(value)


def _copy(base: Case, **changes: Any) -> Case:
    fields = {
        "path_parameters": dict(base.path_parameters),
        "query": dict(base.query or {}),
        "body": base.body,
        "media_type": base.media_type,
    }
    return base.operation.Case(**{**fields, **changes})
