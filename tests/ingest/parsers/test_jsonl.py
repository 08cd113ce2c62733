"""JSON and JSON Lines: one record per document, text from the usual fields."""

from __future__ import annotations

import json

import pytest

from ragworks.ingest.parsers import CorruptDocument, ParseLimits, parse_document


def test_jsonl_records_become_blocks_and_records(limits: ParseLimits) -> None:
    lines = [
        {"id": 1, "title": "첫 기록", "text": "본문 하나"},
        {"id": 2, "content": "본문 둘"},
        {"id": 3, "body": "본문 셋"},
    ]
    data = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines).encode()
    document = parse_document(data, "corpus.jsonl", limits)
    assert document.format == "jsonl"
    assert document.records == lines
    assert [(b.kind, b.text) for b in document.blocks] == [
        ("heading", "첫 기록"),
        ("paragraph", "본문 하나"),
        ("paragraph", "본문 둘"),
        ("paragraph", "본문 셋"),
    ]


def test_json_array_of_strings_works(limits: ParseLimits) -> None:
    document = parse_document(b'["alpha", "beta"]', "list.json", limits)
    assert document.format == "json"
    assert [b.text for b in document.blocks] == ["alpha", "beta"]
    assert document.records == [{"text": "alpha"}, {"text": "beta"}]


def test_record_without_text_field_uses_its_scalar_fields(limits: ParseLimits) -> None:
    document = parse_document(b'{"name": "Seoul", "population": 9400000}', None, limits)
    assert document.text == "name: Seoul\npopulation: 9400000"


def test_invalid_jsonl_line_is_corrupt_with_line_number(limits: ParseLimits) -> None:
    data = b'{"text": "ok"}\n{"text": "ok too"}\n{"text": broken}\n'
    with pytest.raises(CorruptDocument, match="line 3") as caught:
        parse_document(data, "bad.jsonl", limits)
    assert caught.value.details["line"] == 3
    assert caught.value.code == "corrupt_document"


def test_invalid_json_document_is_corrupt_with_line_number(limits: ParseLimits) -> None:
    with pytest.raises(CorruptDocument, match="line 2"):
        parse_document(b'[\n  {"text": "a",,}\n]', "bad.json", limits)
