"""The callback secret kept in the data dir: created once, private, the same for every process."""

from __future__ import annotations

import stat
import subprocess
import sys
import time
from pathlib import Path

from ragworks.config import Settings
from ragworks.jobs.callbacks import load_secret


def test_the_secret_is_created_private_and_then_reused(tmp_path: Path) -> None:
    first = load_secret(Settings(data_dir=tmp_path))

    assert len(first) == 64
    assert stat.S_IMODE((tmp_path / "callback.secret").stat().st_mode) == 0o600
    assert load_secret(Settings(data_dir=tmp_path)) == first
    assert [p.name for p in tmp_path.iterdir()] == ["callback.secret"]  # no draft left behind


# A child process: waits for the "go" file, then reads (or creates) the secret, as a starting worker does.
_CHILD = """
import pathlib, sys, time
from ragworks.config import Settings
from ragworks.jobs.callbacks import load_secret
data_dir = pathlib.Path(sys.argv[1])
while not (data_dir.parent / "go").exists():
    time.sleep(0.001)
print(load_secret(Settings(data_dir=data_dir)).decode())
"""


def test_processes_starting_together_share_one_secret(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    children = [
        subprocess.Popen([sys.executable, "-c", _CHILD, str(data_dir)], stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    time.sleep(1.0)  # every child is waiting for the go
    (tmp_path / "go").touch()
    secrets = [child.communicate(timeout=60)[0].strip() for child in children]

    print(f"4 processes read {len(set(secrets))} distinct secret(s)")
    assert len(set(secrets)) == 1 and len(secrets[0]) == 64
