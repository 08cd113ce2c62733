"""Process logging: JSON lines (or readable text) on stderr, each tagged with the current request id."""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

# Set per request by the middleware; contextvars are copied into worker threads started through
# ``anyio.to_thread.run_sync`` / ``asyncio.to_thread``, so lines logged there carry the id too.
request_id_var: ContextVar[str | None] = ContextVar("ragworks_request_id", default=None)

# Attributes every LogRecord has; anything else on a record came from ``extra={...}``.
_RECORD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "request_id",
    # Uvicorn attaches an ANSI-coloured copy of every message; useless outside a terminal.
    "color_message",
}

# Libraries that log too much at INFO/DEBUG for a server's stderr.
_NOISY_LOGGERS = (
    "httpx",
    "httpcore",
    "urllib3",
    "multipart",
    "python_multipart",
    "filelock",
    "sentence_transformers",
    "transformers",
    "huggingface_hub",
    "alembic",
    "sqlalchemy.engine",
)


def get_request_id() -> str | None:
    """The id of the request being handled in this context, or None outside a request."""
    return request_id_var.get()


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields given to the logger through ``extra={...}``."""
    return {k: v for k, v in record.__dict__.items() if k not in _RECORD_ATTRS and not k.startswith("_")}


class RequestIdFilter(logging.Filter):
    """Stamps ``record.request_id`` from the context var unless the caller passed one explicitly."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, request_id, exc, then the extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id is not None:
            line["request_id"] = request_id
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        # Extra fields never shadow the fixed ones.
        for key, value in extra_fields(record).items():
            line.setdefault(key, value)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger message [rid=...] key=value ...`` for a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        text = super().formatMessage(record)
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id is not None:
            text = f"{text} [rid={request_id}]"
        extras = extra_fields(record)
        if extras:
            text += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        return text


class StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at emit time (so pytest's capture and redirections work)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = sys.stderr
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:
            self.handleError(record)


def configure_logging(level: str, json_output: bool) -> None:
    """Route all logging to one stderr handler on the root logger; safe to call again."""
    root = logging.getLogger()
    # Idempotent: replace our own handler instead of stacking another one on each call.
    for old in [h for h in root.handlers if isinstance(h, StderrHandler)]:
        root.removeHandler(old)
        old.close()
    handler = StderrHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if json_output else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper())

    # Uvicorn's own handlers would print a second, unstructured copy; send its lines through ours.
    for name in ("uvicorn", "uvicorn.error"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    # The middleware writes one access line per request, with the request id and route.
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False
    access.disabled = True

    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
