"""What a request's handler knows and the middleware does not: set per request, read when it ends.

The middleware puts a fresh ``RequestFacts`` in ``request_facts_var`` before calling the app; code that
runs for the request (a route, the service runner, the future API-key check) fills in what it knows
with the ``note_*`` functions. Anything left unset is derived by the recorder from the route and the
request's JSON body, so a new service is counted without code of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(slots=True)
class RequestFacts:
    """Facts about one request that only its handler knows; None = not noted."""

    service: str | None = None
    collections: tuple[str, ...] | None = None
    query: str | None = None
    result_count: int | None = None
    api_key: str | None = None


request_facts_var: ContextVar[RequestFacts | None] = ContextVar("ragworks_request_facts", default=None)


def note_service(name: str) -> None:
    """Attribute the current request to service ``name`` (the first note wins: the top-level call)."""
    facts = request_facts_var.get()
    if facts is not None and facts.service is None:
        facts.service = name


def note_collections(names: Sequence[str]) -> None:
    """The collections the current request reads or writes."""
    facts = request_facts_var.get()
    if facts is not None:
        facts.collections = tuple(names)


def note_query(query: str, result_count: int | None) -> None:
    """The search text of the current request and how many results it found."""
    facts = request_facts_var.get()
    if facts is not None:
        facts.query = query
        facts.result_count = result_count


def note_api_key(key_id: str | None) -> None:
    """The id of the API key that authenticated the current request (for the authentication layer)."""
    facts = request_facts_var.get()
    if facts is not None:
        facts.api_key = key_id
