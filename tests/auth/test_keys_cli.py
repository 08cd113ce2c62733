"""``ragworks keys``: create, list and revoke on a data dir's database, through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from ragworks.auth.keys import ApiKey, parse_key
from ragworks.cli.main import app
from ragworks.engines.store.sql import SqlDatabase
from ragworks.engines.store.sql_keys import SqlKeyStore

runner = CliRunner()


def keys(data_dir: Path, *args: str) -> tuple[int, str, str]:
    """Run ``ragworks keys ARGS --data-dir DATA_DIR``: exit code, stdout, stderr."""
    result = runner.invoke(app, ["keys", *args, "--data-dir", str(data_dir)])
    return result.exit_code, result.stdout, result.stderr


def stored(data_dir: Path, key_id: str) -> ApiKey | None:
    """The key as the data dir's database holds it."""
    db = SqlDatabase(f"sqlite:///{data_dir / 'ragworks.db'}")
    db.start()
    try:
        return SqlKeyStore(db).get(key_id)
    finally:
        db.close()


def test_create_prints_the_key_alone_on_stdout_once(tmp_path: Path) -> None:
    code, out, err = keys(tmp_path, "create", "--admin", "--name", "ops")

    assert code == 0, err
    parsed = parse_key(out.strip())
    assert parsed is not None
    assert "cannot be shown again" in err and parsed[1] not in err
    key = stored(tmp_path, parsed[0])
    assert key is not None and (key.name, key.tenant, key.scopes) == ("ops", None, ("admin",))


def test_create_a_tenant_key_with_scope_collections_and_expiry(tmp_path: Path) -> None:
    code, out, _ = keys(
        tmp_path,
        "create",
        "--name",
        "hr",
        "--tenant",
        "acme",
        "--scope",
        "write",
        "--collection",
        "hr",
        "--collection",
        "legal",
        "--expires-in-days",
        "30",
    )

    assert code == 0
    parsed = parse_key(out.strip())
    assert parsed is not None
    key = stored(tmp_path, parsed[0])
    assert key is not None
    assert (key.tenant, key.scopes, key.collections) == ("acme", ("write",), ("hr", "legal"))
    assert key.expires_at is not None and key.expires_at - key.created_at == 30 * 86_400


def test_create_refuses_a_key_without_a_tenant_or_admin(tmp_path: Path) -> None:
    code, out, err = keys(tmp_path, "create", "--name", "nobody")

    assert code == 1
    assert out == "" and "needs a tenant" in err


def test_list_shows_keys_without_secrets(tmp_path: Path) -> None:
    _, first, _ = keys(tmp_path, "create", "--name", "a", "--tenant", "acme")
    keys(tmp_path, "create", "--name", "b", "--tenant", "other")

    code, out, _ = keys(tmp_path, "list", "--json")
    _, only_acme, _ = keys(tmp_path, "list", "--tenant", "acme", "--json")
    _, table, _ = keys(tmp_path, "list")

    assert code == 0
    listed = json.loads(out)
    assert [(k["name"], k["tenant"], k["state"]) for k in listed] == [
        ("a", "acme", "active"),
        ("b", "other", "active"),
    ]
    assert [k["name"] for k in json.loads(only_acme)] == ["a"]
    parsed = parse_key(first.strip())
    assert parsed is not None
    assert parsed[0] in table and parsed[1] not in out + table


def test_revoke_marks_the_key_revoked(tmp_path: Path) -> None:
    _, out, _ = keys(tmp_path, "create", "--name", "a", "--tenant", "acme")
    parsed = parse_key(out.strip())
    assert parsed is not None

    code, revoked, _ = keys(tmp_path, "revoke", parsed[0])

    assert code == 0 and f"revoked {parsed[0]}" in revoked
    _, listed, _ = keys(tmp_path, "list", "--json")
    assert json.loads(listed)[0]["state"] == "revoked"


def test_revoking_an_unknown_key_fails(tmp_path: Path) -> None:
    code, _, err = keys(tmp_path, "revoke", "ffffffffffff")

    assert code == 1
    assert "not_found" in err
