"""Parsing in worker processes: results and errors cross the process boundary intact."""

from __future__ import annotations

import pickle
from collections.abc import Iterator

import pytest

from helpers import hostile
from ragworks.errors import NotReady, RagworksError, UnsupportedMediaType
from ragworks.ingest.parsers import (
    CorruptDocument,
    DocumentTooComplex,
    EncryptedDocument,
    IsolatedParser,
    ParseLimits,
)


@pytest.fixture(scope="module")
def parser() -> Iterator[IsolatedParser]:
    with IsolatedParser(ParseLimits(timeout_s=30)) as pool:
        yield pool


def test_normal_parse_runs_in_a_worker(parser: IsolatedParser) -> None:
    document = parser.parse("# 제목\n\n본문입니다.".encode(), "note.md")
    assert document.format == "markdown"
    assert [(b.kind, b.text) for b in document.blocks] == [("heading", "제목"), ("paragraph", "본문입니다.")]


def test_worker_errors_keep_class_message_and_code(parser: IsolatedParser) -> None:
    with pytest.raises(UnsupportedMediaType, match="PNG image") as caught:
        parser.parse(b"\x89PNG\r\n\x1a\n" + bytes(64), "image.png")
    assert caught.value.code == "unsupported_media_type"
    assert caught.value.status_code == 415


def test_worker_errors_keep_details(parser: IsolatedParser) -> None:
    with pytest.raises(CorruptDocument) as caught:
        parser.parse(b'{"text": "a"}\n{oops}\n', "bad.jsonl")
    assert caught.value.details == {"line": 2, "column": 2}


@pytest.mark.parametrize(
    "error",
    [
        EncryptedDocument("locked", details={"why": "password"}),
        DocumentTooComplex("too big"),
        UnsupportedMediaType("PNG image"),
    ],
)
def test_errors_survive_pickling(error: RagworksError) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert copy.to_dict() == error.to_dict()


def test_timeout_is_document_too_complex_and_pool_recovers() -> None:
    big = ("- item line\n" * 400_000).encode()  # several seconds of Markdown parsing
    with IsolatedParser(ParseLimits(timeout_s=0.2)) as pool:
        pool.parse(b"warm up the worker", None)
        with pytest.raises(DocumentTooComplex, match=r"longer than 0\.2 s") as caught:
            pool.parse(big, "huge.md")
        assert caught.value.code == "document_limit_exceeded"
        assert pool.parse(b"still working", None).text == "still working"


def test_worker_out_of_memory_is_a_limit_and_pool_recovers() -> None:
    # 320 MiB of address space fits the worker's imports but not a 120 MB UTF-16 file decoded to text.
    limits = ParseLimits(timeout_s=60, max_text_chars=10**9)
    huge = ("가나다라 " * 12_000_000).encode("utf-16")
    with IsolatedParser(limits, max_memory_bytes=320 << 20) as pool:
        assert pool.parse(b"fits in memory", None).text == "fits in memory"
        with pytest.raises(DocumentTooComplex, match="more memory") as caught:
            pool.parse(huge, "huge.txt")
        assert caught.value.code == "document_limit_exceeded"
        assert pool.parse(b"next file", None).text == "next file"


def test_parse_before_start_is_not_ready() -> None:
    with pytest.raises(NotReady):
        IsolatedParser().parse(b"text", None)


def test_a_pdf_that_makes_pypdf_warn_thousands_of_times_does_not_flood_the_log(
    capfd: pytest.CaptureFixture[str],
) -> None:
    # Every repeated key is a warning of pypdf's; the workers write to the server's own stderr.
    data = hostile.one_page_pdf(hostile.text_content("hello"), catalog_entries=b"/Dup 1 " * 20_000)
    with IsolatedParser(ParseLimits(timeout_s=30)) as pool:
        assert pool.parse(data, "noisy.pdf").text == "hello"
    assert len(capfd.readouterr().err) < 10_000
