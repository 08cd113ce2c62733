"""configure_logging: JSON and text lines on stderr, request ids, idempotence, quiet libraries."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from typing import Any

import pytest

from ragworks.observability.logging import (
    StderrHandler,
    configure_logging,
    get_request_id,
    request_id_var,
)

LogLines = Callable[[], list[dict[str, Any]]]

log = logging.getLogger("tests.logging")


def test_json_line_has_core_fields(json_logs: LogLines) -> None:
    log.info("hello %s", "world")
    (line,) = json_logs()
    assert line["level"] == "INFO"
    assert line["logger"] == "tests.logging"
    assert line["msg"] == "hello world"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line["ts"])


def test_json_line_omits_request_id_outside_a_request(json_logs: LogLines) -> None:
    log.info("no request")
    (line,) = json_logs()
    assert "request_id" not in line


def test_json_line_carries_extra_fields(json_logs: LogLines) -> None:
    log.info("ingested", extra={"document_id": "d1", "chunks": 12})
    (line,) = json_logs()
    assert line["document_id"] == "d1"
    assert line["chunks"] == 12


def test_json_line_carries_exception_traceback(json_logs: LogLines) -> None:
    try:
        raise ValueError("bad value")
    except ValueError:
        log.exception("failed")
    (line,) = json_logs()
    assert "Traceback" in line["exc"]
    assert "ValueError: bad value" in line["exc"]


def test_json_line_carries_request_id_from_context(json_logs: LogLines) -> None:
    token = request_id_var.set("req-1")
    try:
        log.info("inside")
    finally:
        request_id_var.reset(token)
    (line,) = json_logs()
    assert line["request_id"] == "req-1"


def test_get_request_id_reads_the_context_var() -> None:
    token = request_id_var.set("abc")
    try:
        assert get_request_id() == "abc"
    finally:
        request_id_var.reset(token)
    assert get_request_id() is None


def test_request_id_reaches_asyncio_to_thread(json_logs: LogLines) -> None:
    async def handle() -> None:
        request_id_var.set("threaded-1")
        await asyncio.to_thread(log.info, "in thread")

    asyncio.run(handle())
    (line,) = json_logs()
    assert line["request_id"] == "threaded-1"


def test_configure_twice_keeps_one_handler() -> None:
    configure_logging("INFO", json_output=True)
    configure_logging("DEBUG", json_output=True)
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, StderrHandler)]
    assert len(handlers) == 1
    assert logging.getLogger().level == logging.DEBUG


def test_text_output_is_readable(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json_output=False)
    token = request_id_var.set("rid-7")
    try:
        log.info("plain", extra={"k": "v"})
    finally:
        request_id_var.reset(token)
    err = capsys.readouterr().err.strip()
    with pytest.raises(json.JSONDecodeError):
        json.loads(err)
    assert "INFO" in err and "tests.logging plain" in err
    assert "rid=rid-7" in err and "k=v" in err


def test_uvicorn_access_log_is_silenced(json_logs: LogLines) -> None:
    logging.getLogger("uvicorn.access").info('127.0.0.1 - "GET / HTTP/1.1" 200')
    assert json_logs() == []


def test_noisy_library_info_is_dropped(json_logs: LogLines) -> None:
    logging.getLogger("httpx").info("HTTP Request: GET http://x")
    assert json_logs() == []


def test_extra_field_cannot_shadow_core_field(json_logs: LogLines) -> None:
    log.info("real", extra={"level": "fake", "ts": "fake"})
    (line,) = json_logs()
    assert line["level"] == "INFO"
    assert line["ts"] != "fake"
