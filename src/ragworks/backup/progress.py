"""How backup and restore report what they are doing, without depending on a terminal."""

from __future__ import annotations

import logging
from typing import Protocol

log = logging.getLogger(__name__)


class Reporter(Protocol):
    """Receives the stages of a backup or restore (the CLI draws them with rich)."""

    def stage(self, description: str, total: int | None = None) -> None:
        """A new stage begins; ``total`` units of work (bytes, files, chunks), None when unknown."""

    def advance(self, amount: int = 1) -> None:
        """``amount`` units of the current stage are done."""

    def warn(self, message: str) -> None:
        """Something the operator should know that does not stop the work."""


class Quiet:
    """A reporter that shows no progress (library use, tests); warnings still go to the log."""

    def stage(self, description: str, total: int | None = None) -> None:
        """Ignore the stage."""

    def advance(self, amount: int = 1) -> None:
        """Ignore the progress."""

    def warn(self, message: str) -> None:
        """Log the warning."""
        log.warning(message)
