"""parse_document: every parser's text loses NUL characters and unpaired surrogates before chunking."""

from __future__ import annotations

import json

import pytest

from ragworks.engines.store.text import REPLACEMENT
from ragworks.ingest.parsers import EmptyDocument, ParseLimits, parse_document


def test_json_escapes_of_nul_and_lone_surrogates_are_cleaned() -> None:
    data = json.dumps({"title": "Ti\x00des", "text": "Tidal\x00 power \ud800 turns the sea"}).encode()

    parsed = parse_document(data, "tides.json", ParseLimits())

    assert "\x00" not in parsed.text
    assert f"Tidal power {REPLACEMENT} turns the sea" in parsed.text


def test_nul_bytes_in_a_text_file_are_removed() -> None:
    parsed = parse_document(b"Tidal\x00 power turns the sea", "tides.txt", ParseLimits())

    assert parsed.text == "Tidal power turns the sea"


def test_a_document_of_nothing_but_nul_characters_is_empty() -> None:
    with pytest.raises(EmptyDocument):
        parse_document(json.dumps({"text": "\x00\x00"}).encode(), "nul.json", ParseLimits())
