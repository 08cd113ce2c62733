"""PostgreSQL fixtures for the engines' tests: a real PostgreSQL 18 server with pgvector.

- ``postgres_server`` (session): the server (``tests/helpers/postgres.py``), started once on a free
  loopback port in a temporary folder and stopped at the end. If it cannot start, every test that asks
  for it errors with the reason and the server log (it is never skipped).
- ``postgres_template`` (session): the name of a database migrated to the newest store schema
  (documents, chunks, jobs, the jobs NOTIFY trigger); it accepts no connections, only copies.
- ``postgres_url``: a fresh database for one test, copied from the template (about 0.1 s), dropped
  afterwards; a SQLAlchemy URL (``postgresql+psycopg://...``). ``postgres_server.conninfo(name)``
  gives the libpq form. The ``vector`` extension is available but not created: an adapter that needs
  it runs ``CREATE EXTENSION IF NOT EXISTS vector`` itself.
- ``postgres_db``: a started ``PostgresDatabase`` on ``postgres_url``, closed afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helpers.postgres import PostgresServer
from ragworks.engines.store.postgres import PostgresDatabase


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL 18 server (pgvector available) for the whole session."""
    server = PostgresServer()
    try:
        server.start()
        server.require_extension("vector")
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_template(postgres_server: PostgresServer) -> str:
    """A database migrated to the newest store schema, to copy test databases from."""
    name = postgres_server.create_database()
    db = PostgresDatabase(postgres_server.url(name))
    db.start()
    db.close()
    # a connection left on a template makes CREATE DATABASE ... TEMPLATE fail: allow none
    postgres_server.execute(f"ALTER DATABASE {name} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false")
    return name


@pytest.fixture
def postgres_url(postgres_server: PostgresServer, postgres_template: str) -> Iterator[str]:
    """The URL of a fresh, migrated database of this test's own."""
    name = postgres_server.create_database(template=postgres_template)
    yield postgres_server.url(name)
    postgres_server.drop_database(name)


@pytest.fixture
def postgres_db(postgres_url: str) -> Iterator[PostgresDatabase]:
    """A started ``PostgresDatabase`` on this test's database."""
    db = PostgresDatabase(postgres_url, lock_timeout_s=5.0)
    db.start()
    yield db
    db.close()
