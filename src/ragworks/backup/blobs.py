"""Copying the uploads a snapshot still needs, checked against their content hash.

Uploads are content-addressed (``<blobs>/ab/<sha256>``) and never change once written, so a copy is
right exactly when its SHA-256 is its name. The server deletes an upload once every job that refers
to it has succeeded; one deleted between the database snapshot and its copy is reported missing, and
the caller decides whether a newer snapshot (in which those jobs succeeded) is needed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path

from ragworks.backup.progress import Reporter

_KEY = re.compile(r"^[0-9a-f]{64}$")
_PIECE = 1 << 20


def blob_path(root: Path, key: str) -> Path:
    """Where ``LocalBlobStore`` keeps ``key`` under ``root``."""
    return root / key[:2] / key


def copy_blobs(source: Path, target: Path, keys: Iterable[str], reporter: Reporter) -> set[str]:
    """Copy the uploads ``keys`` from ``source`` to ``target``; returns those that could not be copied
    (absent, or not matching their hash). Keys already under ``target`` were checked when copied."""
    wanted = sorted(keys)
    reporter.stage("copying uploads", len(wanted))
    missing: set[str] = set()
    for key in wanted:
        copied = blob_path(target, key).is_file() or (
            _KEY.match(key) is not None and _copy_checked(blob_path(source, key), blob_path(target, key), key)
        )
        if not copied:
            missing.add(key)
        reporter.advance()
    return missing


def _copy_checked(source: Path, target: Path, key: str) -> bool:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{key}.partial")
    digest = hashlib.sha256()
    try:
        with source.open("rb") as src, partial.open("wb") as out:
            while piece := src.read(_PIECE):
                digest.update(piece)
                out.write(piece)
    except FileNotFoundError:
        partial.unlink(missing_ok=True)
        return False
    if digest.hexdigest() != key:
        partial.unlink()
        return False
    partial.rename(target)
    return True
