"""How one stream message becomes a document, a delete or a service request.

A message body is a JSON object (UTF-8). Fields are found by dotted paths (``payload.body``); ``$key``
is the message key. A tombstone (no body) deletes the document whose id is the key, as a compacted
Kafka topic means it; so does ``"op": "delete"``. Anything else that cannot be mapped raises
``Unmappable`` with the stage and the reason: the message goes to the dead-letter stream, and the
consumer goes on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ragworks.engines.streams.base import StreamMessage
from ragworks.services.documents import TextDocument
from ragworks.streams.config import FieldMap, SourceSection
from ragworks.streams.dead_letters import Stage

KEY_PATH = "$key"
DELETE_OPS = frozenset({"delete", "deleted", "remove", "d"})
_MISSING = object()


class Unmappable(Exception):
    """A message that cannot become what its source expects; ``stage`` says where it failed."""

    def __init__(self, stage: str, message: str, status_code: int = 422) -> None:
        super().__init__(message)
        self.stage = stage
        self.status_code = status_code


@dataclass(frozen=True, slots=True)
class Upsert:
    """Accept this document (a new version when its content changed, nothing when it did not)."""

    collection: str
    document: TextDocument


@dataclass(frozen=True, slots=True)
class Delete:
    """Delete this document (nothing when it does not exist)."""

    collection: str
    document_id: str


@dataclass(frozen=True, slots=True)
class ServiceRequest:
    """Run ``service`` on ``input`` as a background job; the result goes to the results stream."""

    service: str
    input: dict[str, Any]
    correlation_id: str | None


Action = Upsert | Delete | ServiceRequest


def decode(message: StreamMessage) -> dict[str, Any] | None:
    """The message's JSON object; None for a tombstone.

    Raises:
        Unmappable: not UTF-8, not JSON, or not an object.
    """
    if message.value is None:
        return None
    try:
        body = json.loads(message.value.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise Unmappable(Stage.DECODE, f"the message is not UTF-8 text: {exc}", 400) from None
    except json.JSONDecodeError as exc:
        raise Unmappable(Stage.DECODE, f"the message is not JSON: {exc}", 400) from None
    if not isinstance(body, dict):
        raise Unmappable(Stage.DECODE, f"the message must be a JSON object, not {_kind(body)}", 400)
    return body


def map_message(message: StreamMessage, source: SourceSection) -> Action:
    """What the message asks for, by its source's kind and field map.

    Raises:
        Unmappable: the message is not JSON, or a field is missing or of the wrong type.
    """
    body = decode(message)
    if source.kind == "services":
        return _service_request(message, body)
    return _document_action(message, body, source)


def _document_action(message: StreamMessage, body: dict[str, Any] | None, source: SourceSection) -> Action:
    fields = source.fields
    if body is None:  # a tombstone: the key names the document
        key = _key(message)
        if key is None:
            raise Unmappable(
                Stage.MAP, "a tombstone (a message with no value) needs a key naming the document"
            )
        return Delete(_collection(None, source), key)
    collection = _collection(body, source)
    document_id = _string(body, message, fields.id, "id", required=True)
    assert document_id is not None
    if fields.op is not None:
        op = _lookup(body, message, fields.op)
        if isinstance(op, str) and op.lower() in DELETE_OPS:
            return Delete(collection, document_id)
    text = _string(body, message, fields.text, "text", required=True)
    title = _string(body, message, fields.title, "title", required=False) if fields.title else None
    return Upsert(
        collection,
        TextDocument(text=text or "", id=document_id, title=title, metadata=_metadata(body, fields)),
    )


def _service_request(message: StreamMessage, body: dict[str, Any] | None) -> ServiceRequest:
    if body is None:
        raise Unmappable(Stage.MAP, "a service request needs a body: {service, input, correlation_id}")
    service = body.get("service")
    if not isinstance(service, str) or not service:
        raise Unmappable(Stage.MAP, "field 'service' must name a service (a string)")
    data = body.get("input", {})
    if not isinstance(data, dict):
        raise Unmappable(Stage.MAP, f"field 'input' must be a JSON object, not {_kind(data)}")
    correlation = body.get("correlation_id", message.headers.get("correlation_id", _key(message)))
    if correlation is not None and not isinstance(correlation, str | int):
        raise Unmappable(Stage.MAP, f"field 'correlation_id' must be a string, not {_kind(correlation)}")
    return ServiceRequest(service, data, None if correlation is None else str(correlation))


def _collection(body: dict[str, Any] | None, source: SourceSection) -> str:
    path = source.fields.collection
    if path is not None and body is not None:
        value = _lookup(body, None, path)
        if isinstance(value, str) and value:
            return value
        if value is not _MISSING and value is not None:
            raise Unmappable(
                Stage.MAP, f"field '{path}' (the collection) must be a string, not {_kind(value)}"
            )
    if source.collection is None:
        raise Unmappable(Stage.MAP, f"field '{path}' (the collection) is missing and the source names none")
    return source.collection


def _metadata(body: dict[str, Any], fields: FieldMap) -> dict[str, Any]:
    if fields.metadata == "*":
        mapped = {
            p.split(".", 1)[0]
            for p in (fields.id, fields.title, fields.text, fields.op, fields.collection)
            if p
        }
        return {k: v for k, v in body.items() if k not in mapped}
    metadata: dict[str, Any] = {}
    for path in fields.metadata:
        value = _lookup(body, None, path)
        if value is not _MISSING:
            metadata[path.rsplit(".", 1)[-1]] = value
    return metadata


def _string(
    body: dict[str, Any], message: StreamMessage, path: str, name: str, *, required: bool
) -> str | None:
    value = _lookup(body, message, path)
    if value is _MISSING or value is None:
        if required:
            raise Unmappable(Stage.MAP, f"field '{path}' ({name}) is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Unmappable(Stage.MAP, f"field '{path}' ({name}) must be a string, not {_kind(value)}")
    return str(value)


def _lookup(body: dict[str, Any], message: StreamMessage | None, path: str) -> Any:
    if path == KEY_PATH:
        key = _key(message) if message is not None else None
        return _MISSING if key is None else key
    value: Any = body
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _key(message: StreamMessage | None) -> str | None:
    if message is None or message.key is None:
        return None
    try:
        return message.key.decode("utf-8")
    except UnicodeDecodeError:
        raise Unmappable(Stage.DECODE, "the message key is not UTF-8 text", 400) from None


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")
