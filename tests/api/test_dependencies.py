"""Route dependencies run on the event loop: FastAPI runs a plain ``def`` one in its thread pool."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi.routing import APIRoute

from ragworks.app import create_app
from ragworks.config import LLMSettings, Settings


def _dependencies(dependant: Any) -> Iterator[Any]:
    for dependency in dependant.dependencies:
        yield dependency
        yield from _dependencies(dependency)


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif (included := getattr(route, "original_router", None)) is not None:  # include_router()
            yield from _api_routes(included.routes)


def test_no_route_dependency_goes_through_the_thread_pool(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, log_json=False, llm=LLMSettings(provider="extractive")))
    routes = list(_api_routes(app.routes))
    calls = {d.call for route in routes for d in _dependencies(route.dependant) if d.call is not None}

    assert len(routes) > 20 and len(calls) > 5
    assert [c.__name__ for c in calls if not inspect.iscoroutinefunction(c)] == []
