"""The service registry: built-in services (one line each), plus installed and local plug-ins.

Plug-ins come from the ``ragworks.services`` entry-point group of installed packages (the entry point
names a ``Service`` or a module with ``SERVICE``) and from the ``*.py`` modules of
``services.local_dir`` (what ``ragworks new-service`` writes).
"""

from __future__ import annotations

import importlib.util
import logging
import re
import sys
from collections.abc import Iterator, Mapping
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

from ragworks.config import ServiceSettings
from ragworks.errors import NotFound, RagworksError
from ragworks.services.base import ENVELOPE_FIELDS, Service
from ragworks.services.builtin import (
    answer,
    complete,
    embed,
    refine,
    refine_and_retrieve,
    retrieve,
    summarize,
)

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "ragworks.services"
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

BUILTIN: dict[str, Service[Any, Any]] = {
    "retrieve": retrieve.SERVICE,
    "answer": answer.SERVICE,
    "summarize": summarize.SERVICE,
    "complete": complete.SERVICE,
    "refine": refine.SERVICE,
    "refine_and_retrieve": refine_and_retrieve.SERVICE,
    "embed": embed.SERVICE,
}


class ServiceLoadError(RagworksError):
    """A plug-in service is malformed (bad name, clashing name, missing SERVICE, reserved fields)."""

    code = "service_load_error"


class ServiceRegistry:
    """Services by name."""

    def __init__(self, services: Mapping[str, Service[Any, Any]]) -> None:
        self._services = dict(services)

    def get(self, name: str) -> Service[Any, Any]:
        """The service called ``name``; NotFound otherwise."""
        try:
            return self._services[name]
        except KeyError:
            raise NotFound(
                f"no service named '{name}'", details={"available": sorted(self._services)}
            ) from None

    def __iter__(self) -> Iterator[Service[Any, Any]]:
        return iter(self._services.values())

    def __len__(self) -> int:
        return len(self._services)

    def __contains__(self, name: object) -> bool:
        return name in self._services


def load_registry(settings: ServiceSettings) -> ServiceRegistry:
    """Built-ins, then installed plug-ins, then local modules; any malformed one stops start-up."""
    services: dict[str, Service[Any, Any]] = {}
    for name, service in BUILTIN.items():
        _add(services, service, f"built-in '{name}'")
    if settings.entry_points:
        for point in entry_points(group=ENTRY_POINT_GROUP):
            _add(services, as_service(point.load(), f"entry point '{point.value}'"), point.value)
    for path in local_modules(settings.local_dir):
        _add(services, as_service(load_module(path), str(path)), str(path))
    return ServiceRegistry(services)


def local_modules(folder: Path) -> list[Path]:
    """Service modules of a local folder (tests and private modules skipped)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.py") if not p.name.startswith(("_", "test_")))


def load_module(path: Path) -> ModuleType:
    """Import one local service file under a private package name."""
    name = f"ragworks_local_services.{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ServiceLoadError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise ServiceLoadError(f"importing {path} failed: {exc}") from exc
    return module


def as_service(obj: object, source: str) -> Service[Any, Any]:
    """A ``Service``, or a module's ``SERVICE``."""
    candidate = getattr(obj, "SERVICE", obj) if isinstance(obj, ModuleType) else obj
    if not isinstance(candidate, Service):
        raise ServiceLoadError(f"{source} is not a ragworks Service (a module must define SERVICE)")
    return candidate


def _add(services: dict[str, Service[Any, Any]], service: Service[Any, Any], source: str) -> None:
    if not NAME_PATTERN.match(service.name):
        raise ServiceLoadError(f"{source}: service name '{service.name}' must match {NAME_PATTERN.pattern}")
    if service.name in services:
        raise ServiceLoadError(f"{source}: a service named '{service.name}' is already registered")
    reserved = ENVELOPE_FIELDS & set(service.input.model_fields)
    if reserved:
        raise ServiceLoadError(f"{source}: input fields {sorted(reserved)} are reserved for every service")
    services[service.name] = service
