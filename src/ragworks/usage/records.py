"""One request as the request log keeps it (one JSON line), and the fields derived from it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

COLLECTION_KEY_MAX = 255  # the rollups' column width
_RESULT_LISTS = ("results", "hits", "citations", "data")  # where search-like outputs keep their results
_QUERY_FIELDS = ("query", "question")


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """What the request log says about one request (``ts`` in epoch seconds, UTC)."""

    ts: float
    request_id: str
    method: str
    route: str
    status: int
    duration_ms: float
    service: str | None = None
    collections: tuple[str, ...] = ()
    api_key: str | None = None
    query: str | None = None
    result_count: int | None = None

    def to_line(self) -> str:
        """The record as one JSON line (no newline): ``ts`` in ISO 8601, UTC, to the microsecond."""
        fields = asdict(self)
        fields["ts"] = datetime.fromtimestamp(self.ts, tz=UTC).isoformat(timespec="microseconds")
        fields["collections"] = list(self.collections)
        return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_line(cls, line: str) -> RequestRecord:
        """Parse a line ``to_line`` wrote; ValueError (or KeyError, TypeError) for anything else."""
        fields: dict[str, Any] = json.loads(line)
        return cls(
            ts=datetime.fromisoformat(fields["ts"]).timestamp(),
            request_id=str(fields["request_id"]),
            method=str(fields["method"]),
            route=str(fields["route"]),
            status=int(fields["status"]),
            duration_ms=float(fields["duration_ms"]),
            service=fields.get("service"),
            collections=tuple(fields.get("collections") or ()),
            api_key=fields.get("api_key"),
            query=fields.get("query"),
            result_count=fields.get("result_count"),
        )

    @property
    def status_class(self) -> str:
        """``2xx`` ... ``5xx``."""
        return f"{self.status // 100}xx"

    @property
    def collection_key(self) -> str:
        """The rollups' collection: the collections sorted and joined by ',' ('' for none), so a
        request over several collections is counted once, under all of them."""
        return ",".join(sorted(set(self.collections)))[:COLLECTION_KEY_MAX]


def normalise_query(query: str, max_chars: int) -> str:
    """Case-folded, whitespace collapsed, cut to ``max_chars``: how top queries are grouped."""
    return " ".join(query.casefold().split())[:max_chars]


@dataclass(frozen=True, slots=True)
class BodyFacts:
    """What a service call's JSON bodies say: its collections, its query and how many results."""

    collections: tuple[str, ...] = ()
    query: str | None = None
    result_count: int | None = None


def facts_from_bodies(request_body: bytes | None, response_body: bytes | None) -> BodyFacts:
    """Read collections and the query from a JSON request body and the result count from the JSON
    response body: any service whose input has ``collections`` and ``query`` (or ``question``) and
    whose output has a ``results`` list (or ``hits``, ``citations``, ``data``) is counted, no rule of
    its own needed. Bodies that are not JSON objects give nothing."""
    request = _json_object(request_body)
    response = _json_object(response_body)
    collections: tuple[str, ...] = ()
    raw = request.get("collections")
    if isinstance(raw, list):
        collections = tuple(c for c in raw if isinstance(c, str))
    elif isinstance(request.get("collection"), str):
        collections = (request["collection"],)
    query = next((request[f] for f in _QUERY_FIELDS if isinstance(request.get(f), str)), None)
    result_count = None
    if query is not None:
        found = next((response[f] for f in _RESULT_LISTS if isinstance(response.get(f), list)), None)
        result_count = len(found) if found is not None else None
    return BodyFacts(collections=collections, query=query, result_count=result_count)


def facts_from_models(request: object, response: object) -> BodyFacts:
    """``facts_from_bodies`` read from a service call's input and output models (same fields, same
    rules), so the recorder need not parse the JSON it would say the same from."""
    collections: tuple[str, ...] = ()
    raw = getattr(request, "collections", None)
    if isinstance(raw, list | tuple):
        collections = tuple(c for c in raw if isinstance(c, str))
    elif isinstance(single := getattr(request, "collection", None), str):
        collections = (single,)
    query = next((v for f in _QUERY_FIELDS if isinstance(v := getattr(request, f, None), str)), None)
    result_count = None
    if query is not None:
        found = next((v for f in _RESULT_LISTS if isinstance(v := getattr(response, f, None), list)), None)
        result_count = len(found) if found is not None else None
    return BodyFacts(collections=collections, query=query, result_count=result_count)


def _json_object(body: bytes | None) -> dict[str, Any]:
    if not body:
        return {}
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):  # nested too deep: would end the recorder thread
        return {}
    return value if isinstance(value, dict) else {}
