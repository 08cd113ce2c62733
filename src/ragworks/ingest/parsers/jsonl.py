"""JSON and JSON Lines: each record (object) becomes one entry of ``records`` and its text blocks."""

from __future__ import annotations

import json
from typing import Any

from ragworks.ingest.parsers.base import CorruptDocument, ParsedDocument, ParseLimits
from ragworks.ingest.parsers.encoding import decode_text, normalize_newlines
from ragworks.ingest.parsers.safety import BlockCollector

TEXT_FIELDS = ("text", "content", "body")


def _record_text(record: dict[str, Any]) -> str:
    """The record's text field, or its scalar fields as "key: value" lines when it has none."""
    for name in TEXT_FIELDS:
        value = record.get(name)
        if isinstance(value, str) and value.strip():
            return value
    return "\n".join(
        f"{key}: {value}"
        for key, value in record.items()
        if key != "title" and isinstance(value, str | int | float) and not isinstance(value, bool)
    )


def _add_record(blocks: BlockCollector, record: dict[str, Any]) -> None:
    title = record.get("title")
    if isinstance(title, str) and title.strip():
        blocks.add(title, "heading", level=1)
    blocks.add(_record_text(record))


def _as_records(value: Any, where: str) -> list[dict[str, Any]]:
    """Normalize a top-level JSON value to a list of records (strings become {"text": ...})."""
    if not isinstance(value, list | dict | str):
        raise CorruptDocument(f"{where} is a JSON {type(value).__name__}, expected an object or an array")
    items = value if isinstance(value, list) else [value]
    records: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        if isinstance(item, dict):
            records.append(item)
        elif isinstance(item, str):
            records.append({"text": item})
        else:
            raise CorruptDocument(
                f"{where}: item {index + 1} is a JSON {type(item).__name__}, expected an object or a string"
            )
    return records


def _parse_lines(text: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for number, line in enumerate(normalize_newlines(text).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CorruptDocument(
                f"invalid JSON on line {number}: {exc.msg}", details={"line": number, "column": exc.colno}
            ) from exc
        records.extend(_as_records(value, f"line {number}"))
    return records


class JsonParser:
    """Parser for JSON documents (an object, or an array of objects or strings) and JSON Lines."""

    def __init__(self, format: str = "json") -> None:
        self.format = format
        self.mime = "application/x-ndjson" if format == "jsonl" else "application/json"

    def _parse_json(self, text: str) -> list[dict[str, Any]]:
        try:
            return _as_records(json.loads(text), "the document")
        except json.JSONDecodeError as exc:
            if exc.msg == "Extra data":  # several documents one per line: JSON Lines named .json
                return _parse_lines(text)
            raise CorruptDocument(
                f"invalid JSON on line {exc.lineno}: {exc.msg}",
                details={"line": exc.lineno, "column": exc.colno},
            ) from exc

    def parse(self, data: bytes, limits: ParseLimits) -> ParsedDocument:
        """Turn every record into a block (and a heading block for its title)."""
        decoded = decode_text(data)
        records = _parse_lines(decoded.text) if self.format == "jsonl" else self._parse_json(decoded.text)
        blocks = BlockCollector(limits)
        for record in records:
            _add_record(blocks, record)
        return ParsedDocument(
            format=self.format,
            mime=self.mime,
            blocks=blocks.blocks,
            encoding=decoded.encoding,
            records=records,
        )
