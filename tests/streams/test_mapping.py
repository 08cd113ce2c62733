"""Stream messages become documents, deletes and service requests; anything else is refused with its
stage and reason."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ragworks.engines.streams.base import StreamMessage
from ragworks.streams.config import FieldMap, SourceSection
from ragworks.streams.mapping import Delete, ServiceRequest, Unmappable, Upsert, map_message


def _source(**fields: Any) -> SourceSection:
    return SourceSection(url="redis://x", stream="s", collection="news", fields=FieldMap(**fields))


def _message(body: Any, *, key: str | None = None, raw: bytes | None = None) -> StreamMessage:
    value = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    return StreamMessage(stream="s", value=value, key=key.encode() if key else None, position="1-0")


def test_a_message_maps_to_a_document_with_the_other_fields_as_metadata() -> None:
    action = map_message(
        _message({"id": "a1", "title": "T", "text": "body", "author": "kim", "tags": ["x"]}), _source()
    )
    assert isinstance(action, Upsert) and action.collection == "news"
    assert (action.document.id, action.document.title, action.document.text) == ("a1", "T", "body")
    assert action.document.metadata == {"author": "kim", "tags": ["x"]}


def test_dotted_paths_the_key_as_id_and_listed_metadata() -> None:
    source = _source(id="$key", text="payload.body", title=None, metadata=["payload.lang", "missing"])
    action = map_message(_message({"payload": {"body": "안녕하세요", "lang": "ko"}}, key="k-9"), source)
    assert isinstance(action, Upsert)
    assert (action.document.id, action.document.text, action.document.metadata) == (
        "k-9",
        "안녕하세요",
        {"lang": "ko"},
    )


def test_numeric_ids_become_strings() -> None:
    action = map_message(_message({"id": 42, "text": "t"}), _source())
    assert isinstance(action, Upsert) and action.document.id == "42"


def test_a_tombstone_and_a_delete_op_delete() -> None:
    assert map_message(_message(None, key="a1"), _source()) == Delete("news", "a1")
    assert map_message(_message({"id": "a2", "op": "delete"}), _source()) == Delete("news", "a2")


def test_the_collection_can_come_from_the_message() -> None:
    source = SourceSection(url="redis://x", stream="s", fields=FieldMap(collection="tenant"))
    action = map_message(_message({"id": "1", "text": "t", "tenant": "acme"}), source)
    assert isinstance(action, Upsert) and action.collection == "acme"
    assert "tenant" not in (action.document.metadata or {})


@pytest.mark.parametrize(
    ("message", "stage", "reason"),
    [
        (_message(None, raw=b"{not json"), "decode", "not JSON"),
        (_message(None, raw=b"\xff\xfe\x00"), "decode", "not UTF-8"),
        (_message([1, 2]), "decode", "JSON object, not an array"),
        (_message({"id": "1"}), "map", "'text' (text) is missing"),
        (_message({"id": "1", "text": {"a": 1}}), "map", "must be a string, not an object"),
        (_message({"id": True, "text": "t"}), "map", "must be a string, not a boolean"),
        (_message({"text": "t"}), "map", "'id' (id) is missing"),
        (_message(None), "map", "tombstone"),
    ],
)
def test_a_poison_message_is_refused_with_its_stage_and_reason(
    message: StreamMessage, stage: str, reason: str
) -> None:
    with pytest.raises(Unmappable) as refused:
        map_message(message, _source())
    assert refused.value.stage == stage
    assert reason in str(refused.value)


def test_a_service_request_and_its_correlation_id() -> None:
    source = SourceSection(url="redis://x", stream="requests", kind="services", results="results")
    body = {"service": "summarize", "input": {"text": "long"}, "correlation_id": "c-1"}
    assert map_message(_message(body), source) == ServiceRequest("summarize", {"text": "long"}, "c-1")
    keyed = map_message(_message({"service": "complete", "input": {}}, key="c-2"), source)
    assert isinstance(keyed, ServiceRequest) and keyed.correlation_id == "c-2"
    with pytest.raises(Unmappable, match="'service' must name a service"):
        map_message(_message({"input": {}}), source)
    with pytest.raises(Unmappable, match="'input' must be a JSON object"):
        map_message(_message({"service": "x", "input": "text"}), source)
