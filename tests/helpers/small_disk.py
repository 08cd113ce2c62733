"""A small tmpfs standing in for a data disk that fills up, and a ballast file that fills it."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def small_disk(folder: Path, size: str) -> Iterator[Path]:
    """Mount a tmpfs of ``size`` (``64m``) on ``folder`` for the block; skips the test without root."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs as a full data disk needs root")
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False, capture_output=True)


def fill(folder: Path, leave_bytes: int) -> Path:
    """Write a ballast file that leaves about ``leave_bytes`` free on ``folder``'s file system."""
    ballast = folder / "ballast"
    stats = os.statvfs(folder)
    free = stats.f_bavail * stats.f_frsize
    chunk = b"\0" * (1 << 20)
    remaining = max(0, free - leave_bytes)
    with ballast.open("wb") as out:
        while remaining > 0:
            written = out.write(chunk[: min(len(chunk), remaining)])
            remaining -= written
    return ballast


def free_bytes(folder: Path) -> int:
    """Bytes free on ``folder``'s file system."""
    stats = os.statvfs(folder)
    return stats.f_bavail * stats.f_frsize
