"""`ragworks ingest`, `search` and `jobs` against a real server process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers.server import Server
from ragworks.cli.main import app

WIDE = {"COLUMNS": "200"}  # rich wraps output to the terminal width

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("cli") / "data")
    running.data_dir.mkdir()
    running.start()
    yield running
    running.stop()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "docs" / "nested").mkdir(parents=True)
    (tmp_path / "docs" / "tides.md").write_text(
        "# Tides\n\nThe moon's gravity raises ocean tides twice a day.\n"
    )
    (tmp_path / "docs" / "nested" / "branch.txt").write_bytes(
        "지사의 업무는 고객 상담입니다.".encode("cp949")
    )
    return tmp_path / "docs"


def test_ingest_recurses_waits_and_reports(server: Server, folder: Path) -> None:
    result = CliRunner().invoke(app, ["ingest", str(folder), "-c", "cli", "--url", server.url])
    assert result.exit_code == 0, result.output
    assert "2 indexed" in result.output


def test_ingest_lists_failures_with_reasons(server: Server, folder: Path) -> None:
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7 nothing else")
    (folder / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    result = CliRunner().invoke(app, ["ingest", str(folder), "-c", "cli-bad", "--url", server.url])
    assert result.exit_code == 2
    assert "unsupported_media_type" in result.output
    assert "corrupt_document" in result.output


def test_search_prints_ranked_results(server: Server, folder: Path) -> None:
    CliRunner().invoke(app, ["ingest", str(folder), "-c", "cli-search", "--url", server.url])
    result = CliRunner().invoke(
        app, ["search", "지사가 하는 일", "-c", "cli-search", "--url", server.url], env=WIDE
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].startswith("1. docs/nested/branch.txt")


def test_jobs_lists_the_dead_letter_list(server: Server, folder: Path) -> None:
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7 nothing else")
    CliRunner().invoke(app, ["ingest", str(folder), "-c", "cli-jobs", "--url", server.url])
    result = CliRunner().invoke(app, ["jobs", "--status", "dead", "--url", server.url], env=WIDE)
    assert result.exit_code == 0
    assert "corrupt_document" in result.output


def test_unreachable_server_is_a_clear_error() -> None:
    result = CliRunner().invoke(app, ["search", "x", "-c", "c", "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "cannot reach" in result.output
