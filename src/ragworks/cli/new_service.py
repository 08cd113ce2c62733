"""``ragworks new-service NAME``: write a service module and its test from templates."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from ragworks.services.registry import NAME_PATTERN


def new_service(
    name: Annotated[str, typer.Argument(help="Service name: lower case, digits and '_' (a-z first).")],
    directory: Annotated[
        Path, typer.Option("--dir", help="Folder `ragworks serve` loads services from (services.local_dir).")
    ] = Path("services"),
    summary: Annotated[str, typer.Option(help="One line shown in /docs and GET /v1/services.")] = "",
    force: Annotated[bool, typer.Option(help="Overwrite existing files.")] = False,
) -> None:
    """Write DIR/NAME.py and DIR/test_NAME.py; restart `ragworks serve` to serve POST /v1/services/NAME."""
    if not NAME_PATTERN.match(name):
        raise typer.BadParameter(f"'{name}' must match {NAME_PATTERN.pattern}", param_hint="NAME")
    module, test = directory / f"{name}.py", directory / f"test_{name}.py"
    existing = [p for p in (module, test) if p.exists()]
    if existing and not force:
        typer.echo(f"{existing[0]} exists; pass --force to overwrite", err=True)
        raise typer.Exit(1)
    fields = {"name": name, "summary": summary or f"The {name} service", "test_path": str(test)}
    directory.mkdir(parents=True, exist_ok=True)
    module.write_text(_template("service.py.tmpl").format(**fields))
    test.write_text(_template("test_service.py.tmpl").format(**fields))
    typer.echo(f"wrote {module} and {test}")
    typer.echo(f"test it:   pytest {test}")
    typer.echo(f"serve it:  restart `ragworks serve` (from this folder), then POST /v1/services/{name}")


def _template(name: str) -> str:
    return resources.files("ragworks.cli").joinpath("templates", name).read_text()
