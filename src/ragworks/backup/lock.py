"""The data dir's owner lock, as ``ragworks serve`` takes it (``Container._lock_data_dir``).

Backup tries it to learn whether the data dir is idle, and holds it while it copies the index files:
with the lock held no server can start and write them. Restore holds it for the whole restore, so a
server cannot start on a half-restored data dir.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_NAME = ".lock"  # the name Container._lock_data_dir uses


@contextmanager
def idle_data_dir(data_dir: Path) -> Iterator[bool]:
    """Hold the data dir's lock if no process holds it; yields whether it is held (the dir is idle)."""
    with (data_dir / LOCK_NAME).open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
