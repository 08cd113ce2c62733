"""parse_filters: the request's filter shape turned into field conditions."""

from __future__ import annotations

from ragworks.domain import FieldFilter
from ragworks.services.retrieve import parse_filters


def test_no_filters() -> None:
    assert parse_filters(None) == []
    assert parse_filters({}) == []


def test_plain_values_are_eq() -> None:
    assert parse_filters({"lang": "en", "year": 2020, "draft": False}) == [
        FieldFilter("lang", "eq", "en"),
        FieldFilter("year", "eq", 2020),
        FieldFilter("draft", "eq", False),
    ]


def test_list_is_in() -> None:
    assert parse_filters({"lang": ["en", "ko"]}) == [FieldFilter("lang", "in", ["en", "ko"])]


def test_dict_gives_one_condition_per_operator() -> None:
    assert parse_filters({"year": {"gte": 2020, "lt": 2024}}) == [
        FieldFilter("year", "gte", 2020),
        FieldFilter("year", "lt", 2024),
    ]


def test_dict_operators_are_passed_through_for_the_store_to_check() -> None:
    assert parse_filters({"year": {"near": 1}}) == [FieldFilter("year", "near", 1)]


def test_mixed_fields_keep_their_order() -> None:
    assert parse_filters({"a": 1, "b": [2], "c": {"ne": 3}}) == [
        FieldFilter("a", "eq", 1),
        FieldFilter("b", "in", [2]),
        FieldFilter("c", "ne", 3),
    ]
