"""``ragworks new-service``: the scaffold's test passes unedited and a restarted server serves it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from helpers.server import Server
from ragworks.cli.main import app


@pytest.fixture(scope="module")
def scaffold(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder where `ragworks new-service hello` has run."""
    folder = tmp_path_factory.mktemp("project") / "services"
    result = CliRunner().invoke(
        app, ["new-service", "hello", "--dir", str(folder), "--summary", "Says hello"]
    )
    assert result.exit_code == 0, result.output
    return folder


def test_it_writes_the_module_and_its_test(scaffold: Path) -> None:
    assert sorted(p.name for p in scaffold.iterdir()) == ["hello.py", "test_hello.py"]
    assert 'summary="Says hello"' in (scaffold / "hello.py").read_text()


def test_it_never_overwrites_without_force(scaffold: Path) -> None:
    result = CliRunner().invoke(app, ["new-service", "hello", "--dir", str(scaffold)])
    assert result.exit_code == 1
    assert "exists" in result.output


def test_it_refuses_names_that_cannot_be_routes(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["new-service", "Hello World", "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert not list(tmp_path.iterdir())


def test_the_generated_test_passes_unedited(scaffold: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(scaffold / "test_hello.py")],
        cwd=scaffold.parent,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "4 passed" in run.stdout


@pytest.fixture(scope="module")
def server(scaffold: Path) -> Iterator[Server]:
    """`ragworks serve` started after the scaffold was written (the "restart")."""
    running = Server(
        scaffold.parent / "data",
        env={"RAGWORKS_SERVICES__LOCAL_DIR": str(scaffold), "RAGWORKS_LLM__PROVIDER": "extractive"},
    )
    running.start()
    try:
        yield running
    finally:
        running.stop()


def test_the_server_serves_the_new_service_and_documents_it(server: Server) -> None:
    response = httpx.post(f"{server.url}/v1/services/hello", json={"name": "ragworks"}, timeout=30)
    assert response.json() == {"message": "Hello, ragworks!"}
    assert "/v1/services/hello" in httpx.get(f"{server.url}/openapi.json", timeout=30).json()["paths"]
    listed = httpx.get(f"{server.url}/v1/services", timeout=30).json()["services"]
    assert {"name": "hello", "summary": "Says hello"}.items() <= next(
        s for s in listed if s["name"] == "hello"
    ).items()
