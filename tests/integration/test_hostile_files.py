"""Hostile uploads through the real app: each fails alone, with its reason, and the server goes on.

One upload carries bombs, entity tricks, a page tree of 100,000 pages, nesting past the parsers' limits
and a file that outlasts the parse time limit, beside one good file. Every file is built in the test.
The limits are lowered through the settings, so the files stay small.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import olefile
import pytest
from fastapi.testclient import TestClient

from helpers import hostile
from helpers.api import retrieve, upload, wait_for_job
from helpers.files import make_docx
from ragworks.app import create_app
from ragworks.config import IngestSettings, JobSettings, LLMSettings, Settings

pytestmark = pytest.mark.integration

GOOD = b"# Tidal power\n\nTidal turbines sit on the seabed and turn with the currents twice a day.\n"
LIMITS = IngestSettings(
    max_uncompressed_bytes=20 << 20,
    max_pages=100,
    # Long enough for any file here on a busy machine, far too short for the slow PDF (minutes).
    parse_timeout_s=10,
    parser_memory_bytes=1 << 30,
)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """An app with lowered parse limits, so the hostile files stay small and the test fast."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("data"),
        log_json=False,
        ingest=LIMITS,
        jobs=JobSettings(poll_interval_s=0.1, backoff_base_s=0.05, backoff_max_s=0.2, max_attempts=2),
        llm=LLMSettings(provider="extractive"),
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def _hwp_bomb(shared_data: Path) -> bytes:
    with olefile.OleFileIO(str(shared_data / "files" / "hwp" / "sample-5017.hwp")) as ole:
        streams = {"/".join(name): ole.openstream(name).read() for name in ole.listdir()}
    streams["BodyText/Section0"] = hostile.deflate_zeros(40 << 20)
    return hostile.make_ole(streams)


def _hostile_files(shared_data: Path, secret: Path) -> dict[str, tuple[bytes, str, str]]:
    """file name -> (content, the error code its job must end with, a phrase of the message)."""
    docx = make_docx(lambda document: document.add_paragraph("An ordinary paragraph."))
    return {
        "bomb.docx": (
            hostile.with_members(docx, {"word/media/zeros.bin": bytes(30 << 20)}),
            "document_limit_exceeded",
            "decompression bomb",
        ),
        "laughs.docx": (
            hostile.docx_with_doctype(hostile.BILLION_LAUGHS, "&a9;"),
            "corrupt_document",
            "declares a DTD",
        ),
        "xxe.hwpx": (
            hostile.hwpx_with_doctype(hostile.external_entity(str(secret)), "&xxe;"),
            "corrupt_document",
            "declares a DTD",
        ),
        "bomb.hwp": (_hwp_bomb(shared_data), "document_limit_exceeded", "decompression bomb"),
        "pages.pdf": (hostile.many_page_pdf(100_000), "document_limit_exceeded", "100000 pages"),
        "flate.pdf": (
            hostile.one_page_pdf(
                hostile.deflate_zeros(100 << 20, zlib_header=True), stream_entries=b"/Filter /FlateDecode"
            ),
            "document_limit_exceeded",
            "parser limit",
        ),
        "deep.html": (
            b"<html><body>" + b"<div>" * 100_000 + b"deep" + b"</div>" * 100_000 + b"</body></html>",
            "document_limit_exceeded",
            "beyond the parser's limits",
        ),
        "deep.json": (b"[" * 100_000 + b"]" * 100_000, "document_limit_exceeded", "nested too deeply"),
        # Last: the worker it leaves is replaced, and the next file would wait for that one to start.
        "slow.pdf": (hostile.slow_pdf(), "document_limit_exceeded", "longer than 10 s"),
    }


# Refused at upload, before any job: each gets its reason in the upload's answer.
REFUSED = {
    "empty.txt": (b"", "empty_document"),
    "nul.txt": (b"hello\x00world " * 1_000, "unsupported_media_type"),
}


@pytest.mark.timeout(300)
def test_hostile_uploads_fail_alone_with_their_reasons(
    client: TestClient, shared_data: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-FILE-CONTENT")
    hostile_files = _hostile_files(shared_data, secret)
    many = hostile.with_many_members(make_docx(lambda document: document.add_paragraph("x")), 10_001)
    refused = {**REFUSED, "many.docx": (many, "document_limit_exceeded")}
    one_word = b"a" * 1_000_000  # no hostile intent, but a megabyte of one "word"
    files = [(name, content) for name, (content, _) in refused.items()]
    files += [("word.txt", one_word), ("tides.md", GOOD)]
    files += [(name, content) for name, (content, _, _) in hostile_files.items()]
    assert client.post("/v1/collections", json={"name": "hostile"}).status_code == 201
    # The parser process imports its libraries on its first file: not within a hostile file's time.
    warm_up = upload(client, "hostile", [("warm-up.txt", b"The parser is ready.")]).json()["documents"]
    assert wait_for_job(client, warm_up[0]["job_id"])["status"] == "succeeded"

    response = upload(client, "hostile", files)

    assert response.status_code == 202, response.text
    assert client.get("/health").status_code == 200  # while the files are being parsed
    answers: dict[str, dict[str, Any]] = {d["filename"]: d for d in response.json()["documents"]}
    for name, (_, code) in refused.items():
        assert (answers[name]["status"], answers[name]["error"]["code"]) == ("rejected", code), name
    jobs = {
        name: wait_for_job(client, answers[name]["job_id"])
        for name in [*hostile_files, "word.txt", "tides.md"]
    }
    for name, (_, code, phrase) in hostile_files.items():
        job = jobs[name]
        assert (job["status"], job["error"]["code"]) == ("dead", code), (name, job["error"])
        assert phrase in job["error"]["message"], (name, job["error"])
        document = client.get(f"/v1/collections/hostile/documents/{name}").json()
        assert (document["status"], document["error"]["code"]) == ("failed", code), name
    assert "TOP-SECRET" not in str(jobs["xxe.hwpx"])
    assert jobs["word.txt"]["status"] == "succeeded"
    assert jobs["tides.md"]["status"] == "succeeded"
    assert client.get("/v1/collections/hostile/documents/tides.md").json()["status"] == "ready"
    hits = retrieve(client, "hostile", "tidal turbines seabed", mode="keyword")["results"]
    assert hits[0]["document_id"] == "tides.md"
    assert client.get("/health").status_code == 200
