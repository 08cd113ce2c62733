"""No NUL character in a URL's path or query parameters: 422 before any route runs.

Every such parameter of the API names something (a collection, a document, a job, a status, a kind, a
metadata filter), and no stored name holds a NUL: PostgreSQL's text cannot, and intake strips it from
content. Passed on, ``a%00b`` would find nothing on SQLite but ``ab`` on PostgreSQL, whose driver drops
the character from every value it sends.
"""

from __future__ import annotations

from fastapi import Request

from ragworks.errors import InvalidInput

NUL = "\x00"


async def refuse_nul_characters(request: Request) -> None:
    """Raise InvalidInput (422, with each offending parameter) when a path or query parameter holds NUL."""
    found = [["path", name] for name, value in request.path_params.items() if NUL in str(value)]
    found += [["query", name] for name, value in request.query_params.multi_items() if NUL in name + value]
    if found:
        details = [
            {"loc": loc, "msg": "NUL characters are not allowed", "type": "value_error"} for loc in found
        ]
        raise InvalidInput("the request is invalid", details=details)
