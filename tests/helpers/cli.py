"""The ragworks command line run as a user runs it: a fresh process."""

from __future__ import annotations

import subprocess
import sys


def ragworks(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``ragworks ARGS`` in a fresh process; its output is captured, its exit code not checked."""
    return subprocess.run(
        [sys.executable, "-m", "ragworks", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
