"""Text every store can keep: PostgreSQL refuses NUL characters and unpaired UTF-16 surrogates.

Text is cleaned where it enters (parsed documents, JSON documents), so offsets, content hashes and
stored values are the same on every engine; the PostgreSQL adapter applies the same cleaning to every
value it writes, so nothing that slips past intake can fail a statement.
"""

from __future__ import annotations

import re
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def storable_text(text: str) -> str:
    """``text`` without NUL characters and with each unpaired surrogate replaced by U+FFFD."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    if text.isascii():
        return text
    return _SURROGATE.sub(REPLACEMENT, text)


def storable_json(value: Any) -> Any:
    """A JSON-like value (dicts, lists, scalars) with every string, keys included, made storable."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict):
        return {storable_json(key): storable_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [storable_json(item) for item in value]
    return value
