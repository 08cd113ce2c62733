"""storable_text and storable_json: what no store can keep is removed or replaced, nothing else."""

from __future__ import annotations

from ragworks.engines.store.text import REPLACEMENT, storable_json, storable_text


def test_nul_characters_are_removed() -> None:
    assert storable_text("tidal\x00 power\x00") == "tidal power"


def test_unpaired_surrogates_are_replaced() -> None:
    assert storable_text("a\ud800b\udfffc") == f"a{REPLACEMENT}b{REPLACEMENT}c"


def test_other_text_is_left_alone() -> None:
    text = "지사의 tidal power \u00e9\U0001f600 \t\n\x01"

    assert storable_text(text) is text


def test_json_values_and_keys_are_cleaned_at_any_depth() -> None:
    value = {"k\x00": ["a\ud800", {"deep": "b\x00"}], "n": 1, "flag": True, "none": None}

    assert storable_json(value) == {
        "k": [f"a{REPLACEMENT}", {"deep": "b"}],
        "n": 1,
        "flag": True,
        "none": None,
    }
