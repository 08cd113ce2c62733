"""Parser test fixtures: limits, the real HWP files, and document builders (from helpers.files)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from helpers import files
from ragworks.ingest.parsers import ParseLimits


@pytest.fixture
def limits() -> ParseLimits:
    """Default limits, as the service uses them."""
    return ParseLimits()


@pytest.fixture
def hwp_dir(shared_data: Path) -> Path:
    """The real Hancom HWP 5.0 files in the shared data folder."""
    return shared_data / "files" / "hwp"


@pytest.fixture
def make_pdf() -> Callable[..., bytes]:
    return files.make_pdf


@pytest.fixture
def encrypt_pdf() -> Callable[[bytes, str], bytes]:
    return files.encrypt_pdf


@pytest.fixture
def make_docx() -> Callable[[Callable[[Any], None]], bytes]:
    return files.make_docx


@pytest.fixture
def make_hwpx() -> Callable[..., bytes]:
    return files.make_hwpx


@pytest.fixture
def add_zero_member() -> Callable[[bytes, str, int], bytes]:
    return files.add_zero_member
