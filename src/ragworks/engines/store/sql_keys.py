"""API keys on SQLAlchemy Core, in the store's database (SQLite and PostgreSQL alike)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from ragworks.auth.keys import ApiKey
from ragworks.engines.store.schema import api_keys
from ragworks.engines.store.sql import SqlDatabase
from ragworks.errors import Conflict, NotFound

# every column but the secret's hash: what lists and lookups by id return
_PUBLIC = [column for column in api_keys.c if column.name != "secret_hash"]


def _key(row: Any) -> ApiKey:
    return ApiKey(
        id=row.id,
        name=row.name,
        tenant=row.tenant,
        scopes=tuple(row.scopes),
        collections=tuple(row.collections) if row.collections is not None else None,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


class SqlKeyStore:
    """API keys (see ``KeyStore`` for the contract)."""

    def __init__(self, db: SqlDatabase) -> None:
        self.db = db

    def add(self, key: ApiKey, secret_hash: str) -> None:
        """Insert the key; Conflict when its id is taken."""
        values = {
            "id": key.id,
            "name": key.name,
            "tenant": key.tenant,
            "scopes": list(key.scopes),
            "collections": list(key.collections) if key.collections is not None else None,
            "secret_hash": secret_hash,
            "created_at": key.created_at,
            "expires_at": key.expires_at,
            "last_used_at": key.last_used_at,
            "revoked_at": key.revoked_at,
        }
        try:
            with self.db.writer.begin() as conn:
                conn.execute(insert(api_keys).values(values))
        except IntegrityError:
            raise Conflict(f"an API key with id '{key.id}' exists") from None

    def get(self, key_id: str) -> ApiKey | None:
        """The key, or None."""
        with self.db.reader.connect() as conn:
            row = conn.execute(select(*_PUBLIC).where(api_keys.c.id == key_id)).first()
        return _key(row) if row is not None else None

    def lookup(self, key_id: str) -> tuple[ApiKey, str] | None:
        """The key and its secret's hash, or None."""
        with self.db.reader.connect() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
        return (_key(row), row.secret_hash) if row is not None else None

    def list_keys(self, tenant: str | None = None) -> list[ApiKey]:
        """Keys oldest first, all or one tenant's."""
        query = select(*_PUBLIC).order_by(api_keys.c.created_at, api_keys.c.id)
        if tenant is not None:
            query = query.where(api_keys.c.tenant == tenant)
        with self.db.reader.connect() as conn:
            return [_key(row) for row in conn.execute(query)]

    def revoke(self, key_id: str, now: float) -> ApiKey:
        """Set ``revoked_at`` once; NotFound for an unknown id."""
        with self.db.writer.begin() as conn:
            conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            row = conn.execute(select(*_PUBLIC).where(api_keys.c.id == key_id)).first()
        if row is None:
            raise NotFound(f"no API key with id '{key_id}'")
        return _key(row)

    def touch(self, used_at: Mapping[str, float]) -> None:
        """Move ``last_used_at`` forward, one UPDATE per key in one transaction (ids sorted, so two
        processes touching the same keys never deadlock)."""
        if not used_at:
            return
        statement = (
            update(api_keys)
            .where(
                api_keys.c.id == bindparam("key_id"),
                or_(api_keys.c.last_used_at.is_(None), api_keys.c.last_used_at < bindparam("used_at")),
            )
            .values(last_used_at=bindparam("used_at"))
        )
        rows = [{"key_id": key_id, "used_at": used_at[key_id]} for key_id in sorted(used_at)]
        with self.db.writer.begin() as conn:
            conn.execute(statement, rows)
