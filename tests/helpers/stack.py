"""A real `ragworks up` stack (PostgreSQL, the API, N workers) in a temporary folder, for integration
tests; `ragworks down` and the folder removed at the end."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from helpers.cli import ragworks
from ragworks.stack.probes import free_port


@dataclass
class RunningStack:
    root: Path
    config: Path
    api: str  # the API's base URL
    database: str  # a libpq URL of the stack's PostgreSQL database

    @property
    def data_dir(self) -> Path:
        return self.root / "data"


@contextmanager
def running_stack(
    prefix: str, workers: int, *, stack_extra: str = "", ingest_batch: int = 32
) -> Iterator[RunningStack]:
    """`ragworks up --detach` with the extractive LLM; ``stack_extra`` adds lines to ``[stack]``."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)  # reachable by PostgreSQL's account when the tests run as root
    config, port, pg_port = root / "ragworks.toml", free_port(), free_port()
    config.write_text(
        f"""
[stack]
workers = {workers}
ready_timeout_s = 300
{stack_extra}
[postgres]
port = {pg_port}

[settings]
data_dir = "{root / "data"}"
[settings.server]
port = {port}
[settings.llm]
provider = "extractive"
[settings.jobs]
ingest_batch = {ingest_batch}
# the scaled API asks for keys by default; these tests are about the stack (tests/auth: keys)
[settings.auth]
enabled = false
"""
    )
    up = ragworks("up", "--detach", "--config", str(config), timeout=900)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        password = (root / "data" / "postgres.password").read_text().strip()
        database = f"postgresql://postgres:{password}@127.0.0.1:{pg_port}/ragworks"
        yield RunningStack(root, config, f"http://127.0.0.1:{port}", database)
    finally:
        ragworks("down", "--config", str(config), timeout=300)
        shutil.rmtree(root, ignore_errors=True)
