"""``ragworks keys``: make, list and revoke API keys in the database the settings name.

These commands open the database directly (no server needed), so the first admin key can be made
before auth is turned on. The full key is printed once, alone on stdout (so
``KEY=$(ragworks keys create ...)`` captures it); what it is goes to stderr.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ragworks.auth.admin import KeyAdmin, KeyRequest
from ragworks.auth.keys import ApiKey
from ragworks.auth.principal import Scope
from ragworks.config import Settings
from ragworks.errors import RagworksError

app = typer.Typer(help="API keys: make, list and revoke them (see docs/security.md).", no_args_is_help=True)
stderr = Console(stderr=True)

DataDirOption = Annotated[
    Path | None, typer.Option(help="The data dir of an embedded server (its SQLite database).")
]


@contextmanager
def _keys(data_dir: Path | None) -> Iterator[KeyAdmin]:
    """Key use-cases on the settings' database, migrated first (as a starting server does)."""
    from ragworks.auth.wiring import key_store_for
    from ragworks.engines.store.providers import build_store

    settings = Settings()
    if data_dir is not None:
        settings.data_dir = data_dir
    if settings.database_url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    stores = build_store(settings)
    try:
        stores.database.start()
    except RagworksError as exc:
        stderr.print(f"[red]cannot open the database[/red]: {exc.message}")
        raise typer.Exit(1) from None
    try:
        yield KeyAdmin(key_store_for(stores))
    except RagworksError as exc:
        stderr.print(f"[red]error[/red] {exc.code}: {exc.message}")
        raise typer.Exit(1) from None
    finally:
        stores.database.close()


@app.command()
def create(
    name: Annotated[str, typer.Option(help="What the key is for (shown in lists).")],
    tenant: Annotated[str | None, typer.Option(help="The tenant the key acts for.")] = None,
    scope: Annotated[str | None, typer.Option(help="read (default) or write; tenant keys only.")] = None,
    collection: Annotated[
        list[str] | None, typer.Option(help="Limit the key to this collection (repeatable).")
    ] = None,
    admin: Annotated[bool, typer.Option("--admin", help="An operator's key: every tenant.")] = False,
    expires_in_days: Annotated[float | None, typer.Option(help="Expire after this many days.")] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Make a key for a tenant (--tenant) or an operator (--admin); it is printed once."""
    if scope is not None and scope not in ("read", "write"):
        raise typer.BadParameter("--scope must be read or write")
    chosen: Scope | None = "write" if scope == "write" else "read" if scope == "read" else None
    request = KeyRequest(name, tenant, chosen, collection or None, admin, expires_in_days)
    with _keys(data_dir) as keys:
        key, full_key = keys.create(request)
    who = "admin (every tenant)" if key.tenant is None else f"tenant {key.tenant}"
    stderr.print(f"Created API key [bold]{key.id}[/bold] ({key.name}): {who}, scopes {','.join(key.scopes)}")
    typer.echo(full_key)
    stderr.print("[yellow]Store it now; it cannot be shown again.[/yellow]")


@app.command("list")
def list_keys(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's keys.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Keys with their tenant, scopes and state (never their secrets)."""
    with _keys(data_dir) as keys:
        found = keys.list(tenant)
    now = time.time()
    if as_json:
        typer.echo(json.dumps([_row(key, now) for key in found], indent=2))
        return
    table = Table("id", "name", "tenant", "scopes", "collections", "created", "expires", "last used", "state")
    for key in found:
        table.add_row(
            key.id,
            key.name,
            key.tenant or "(admin)",
            ",".join(key.scopes),
            ",".join(key.collections) if key.collections is not None else "(all)",
            _when(key.created_at),
            _when(key.expires_at),
            _when(key.last_used_at),
            key.state(now),
        )
    console = Console()
    # piped, rich would squeeze the table into 80 columns
    (console if console.is_terminal else Console(width=200)).print(table)


@app.command()
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (as `ragworks keys list` shows).")],
    data_dir: DataDirOption = None,
) -> None:
    """Revoke a key; servers refuse it once their cache expires (auth.cache_ttl_s)."""
    with _keys(data_dir) as keys:
        key = keys.revoke(key_id)
    typer.echo(f"revoked {key.id} ({key.name}) at {_when(key.revoked_at)}")


def _row(key: ApiKey, now: float) -> dict[str, object]:
    return {
        "id": key.id,
        "name": key.name,
        "tenant": key.tenant,
        "scopes": list(key.scopes),
        "collections": list(key.collections) if key.collections is not None else None,
        "created_at": key.created_at,
        "expires_at": key.expires_at,
        "last_used_at": key.last_used_at,
        "revoked_at": key.revoked_at,
        "state": key.state(now),
    }


def _when(unix: float | None) -> str:
    if unix is None:
        return "-"
    return datetime.fromtimestamp(unix, tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")
