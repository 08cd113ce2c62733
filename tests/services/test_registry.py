"""The service registry: built-ins, local modules and installed entry points."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from ragworks.config import ServiceSettings
from ragworks.errors import NotFound
from ragworks.services.registry import ServiceLoadError, load_registry

GREETER = """
from pydantic import BaseModel
from ragworks.services.base import Service, ServiceContext


class Input(BaseModel):
    name: str


class Output(BaseModel):
    greeting: str


async def run(data: Input, ctx: ServiceContext) -> Output:
    return Output(greeting=f"hello {data.name}")


SERVICE = Service(name="{name}", summary="Greets", input=Input, output=Output, run=run)
"""


def write_service(folder: Path, module: str, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{module}.py"
    path.write_text(GREETER.replace("{name}", name))
    return path


def test_builtins_are_registered(tmp_path: Path) -> None:
    registry = load_registry(ServiceSettings(local_dir=tmp_path, entry_points=False))
    assert registry.get("retrieve").aliases == ("/v1/retrieve",)


def test_unknown_service_is_not_found_with_the_available_names(tmp_path: Path) -> None:
    registry = load_registry(ServiceSettings(local_dir=tmp_path, entry_points=False))
    with pytest.raises(NotFound) as caught:
        registry.get("nope")
    assert "retrieve" in caught.value.details["available"]


def test_local_modules_are_loaded_but_not_tests_or_private_ones(tmp_path: Path) -> None:
    write_service(tmp_path, "greeter", "greeter")
    (tmp_path / "test_greeter.py").write_text("raise RuntimeError('tests are not services')\n")
    (tmp_path / "_helpers.py").write_text("raise RuntimeError('private modules are not services')\n")
    registry = load_registry(ServiceSettings(local_dir=tmp_path, entry_points=False))
    assert "greeter" in registry


def test_a_missing_local_folder_is_fine(tmp_path: Path) -> None:
    registry = load_registry(ServiceSettings(local_dir=tmp_path / "absent", entry_points=False))
    assert "retrieve" in registry


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (GREETER.replace("{name}", "retrieve"), "already registered"),
        (GREETER.replace("{name}", "Bad Name"), "must match"),
        ("x = 1\n", "must define SERVICE"),
        ("raise ValueError('broken at import')\n", "broken at import"),
        (
            GREETER.replace("{name}", "greeter").replace("    name: str", "    name: str\n    stream: bool"),
            "reserved",
        ),
    ],
)
def test_malformed_local_services_stop_start_up_with_the_reason(
    tmp_path: Path, source: str, message: str
) -> None:
    (tmp_path / "svc.py").write_text(source)
    with pytest.raises(ServiceLoadError, match=message):
        load_registry(ServiceSettings(local_dir=tmp_path, entry_points=False))


@pytest.fixture
def installed_plugin(tmp_path: Path) -> Iterator[Path]:
    """A real distribution on sys.path declaring a ``ragworks.services`` entry point."""
    site = tmp_path / "site"
    write_service(site, "ragworks_greeter_plugin", "plugin_greeter")
    info = site / "ragworks_greeter_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ragworks-greeter-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        textwrap.dedent(
            """\
            [ragworks.services]
            plugin_greeter = ragworks_greeter_plugin
            """
        )
    )
    sys.path.insert(0, str(site))
    try:
        yield site
    finally:
        sys.path.remove(str(site))
        sys.modules.pop("ragworks_greeter_plugin", None)


@pytest.mark.usefixtures("installed_plugin")
def test_installed_packages_add_services_through_entry_points(tmp_path: Path) -> None:
    registry = load_registry(ServiceSettings(local_dir=tmp_path / "none", entry_points=True))
    assert registry.get("plugin_greeter").summary == "Greets"


@pytest.mark.usefixtures("installed_plugin")
def test_entry_points_can_be_switched_off(tmp_path: Path) -> None:
    registry = load_registry(ServiceSettings(local_dir=tmp_path / "none", entry_points=False))
    assert "plugin_greeter" not in registry
