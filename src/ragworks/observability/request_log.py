"""The request log: one JSON line per HTTP request, appended in batches and rotated by size.

``requests.jsonl`` grows to ``max_bytes``, then becomes ``requests.jsonl.1`` (the older ones move up
to ``.2`` ... ``.<backups>``, the oldest is deleted), so the log never takes more than about
``(backups + 1) * max_bytes``. Only the usage recorders' threads write it; nothing here runs on the
event loop.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO


class RotatingLineFile:
    """Appends lines to ``path`` and rotates it by size.

    Several processes may share one file (``ragworks api --workers N``): each batch is written under an
    exclusive ``flock`` on ``<path>.lock``, and a process whose open file was rotated away by another
    reopens ``path`` before writing.
    """

    def __init__(self, path: Path, max_bytes: int, backups: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        self._file: IO[bytes] | None = None

    def write_lines(self, lines: Sequence[str]) -> None:
        """Append ``lines`` (each without its newline), rotating whenever the next one would overflow."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "ab") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            file = self._current()
            size = os.fstat(file.fileno()).st_size
            pending: list[bytes] = []
            for line in lines:
                data = (line + "\n").encode("utf-8")
                if size and size + len(data) > self.max_bytes:
                    file.write(b"".join(pending))
                    pending = []
                    file = self._rotate()
                    size = 0
                pending.append(data)
                size += len(data)
            file.write(b"".join(pending))
            file.flush()

    def close(self) -> None:
        """Close the file (the next write opens it again)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def _current(self) -> IO[bytes]:
        """The open file, reopened when ``path`` is missing or is no longer the file we hold."""
        if self._file is not None:
            try:
                same = os.stat(self.path).st_ino == os.fstat(self._file.fileno()).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                self.close()
        if self._file is None:
            self._file = open(self.path, "ab")  # noqa: SIM115 - kept open between batches
        return self._file

    def _rotate(self) -> IO[bytes]:
        self.close()
        if self.backups <= 0:
            self.path.unlink(missing_ok=True)
        else:
            for index in range(self.backups - 1, 0, -1):
                older = rotated_path(self.path, index)
                if older.exists():
                    os.replace(older, rotated_path(self.path, index + 1))
            os.replace(self.path, rotated_path(self.path, 1))
        return self._current()


def rotated_path(path: Path, index: int) -> Path:
    """The ``index``-th rotated file of ``path`` (1 is the most recent)."""
    return path.with_name(f"{path.name}.{index}")


def log_files(path: Path) -> list[Path]:
    """``path`` and its rotated files that exist, oldest first."""
    rotated: list[tuple[int, Path]] = []
    for candidate in path.parent.glob(f"{path.name}.*"):
        suffix = candidate.name[len(path.name) + 1 :]
        if suffix.isdigit():
            rotated.append((int(suffix), candidate))
    files = [p for _, p in sorted(rotated, reverse=True)]
    return [*files, path] if path.exists() else files


def read_lines(path: Path) -> Iterator[str]:
    """Every non-empty line of ``path`` and its rotated files, oldest first."""
    for file in log_files(path):
        with file.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                if line.strip():
                    yield line
