"""The floor of bench/peers_compare.py: a bare FastAPI endpoint that validates the same request model
as ``POST /v1/retrieve`` (``RetrieveInput``) and answers with canned bytes of a real retrieve answer,
served by uvicorn as ``ragworks serve`` serves the product (same loop and HTTP parser, no access log).

What it costs per request is what any FastAPI retrieve service pays before it searches anything::

    .venv/bin/python bench/peers/floor_app.py --port 8123 --answer .bench/peers-compare/answer.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Response

from ragworks.services.retrieve_models import RetrieveInput


def create_app(answer: bytes) -> FastAPI:
    """An app with one retrieve route that returns ``answer`` whatever it is asked."""
    app = FastAPI()

    @app.post("/v1/retrieve")
    async def retrieve(request: RetrieveInput) -> Response:
        del request  # validated, then ignored: the floor does no work
        return Response(content=answer, media_type="application/json")

    @app.get("/ready")
    async def ready() -> dict[str, bool]:
        return {"ready": True}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--answer", type=Path, required=True, help="JSON bytes to answer with")
    args = parser.parse_args()
    app = create_app(args.answer.read_bytes())
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
