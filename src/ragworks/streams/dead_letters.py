"""Dead-letter and result messages: one format for a poison message the consumer refuses and for a
service request whose job died after its last attempt.

Headers follow Kafka Connect's dead-letter context (``__connect.errors.*``), under ``ragworks.errors.``:
the source stream or topic, its position (partition:offset, entry id or sequence), the stage that
failed, the error's class and message, and the attempts made. The body is the original message,
byte for byte, so a dead letter can be replayed by publishing it back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PREFIX = "ragworks.errors."


class Stage:
    """Where a message failed."""

    DECODE = "decode"  # not JSON, not UTF-8, not an object
    MAP = "map"  # a field missing or of the wrong type
    ACCEPT = "accept"  # the document was refused (empty text, bad id, ...)
    SERVICE = "service"  # the service call failed after its last attempt
    INGEST = "ingest"  # the document failed to parse or index


@dataclass(frozen=True, slots=True)
class FailureContext:
    """What a dead letter records about the failure."""

    source_stream: str
    position: str
    stage: str
    error_class: str
    error_message: str
    attempts: int = 1
    status_code: int | None = None

    def headers(self, original: Mapping[str, str] | None = None) -> dict[str, str]:
        """The original headers (kept) plus the ``ragworks.errors.*`` context."""
        headers = {k: v for k, v in (original or {}).items() if not k.startswith(PREFIX)}
        headers.update(
            {
                PREFIX + "source.stream": self.source_stream,
                PREFIX + "source.position": self.position,
                PREFIX + "stage": self.stage,
                PREFIX + "class": self.error_class,
                PREFIX + "message": self.error_message[:2000],
                PREFIX + "attempts": str(self.attempts),
            }
        )
        if self.status_code is not None:
            headers[PREFIX + "status_code"] = str(self.status_code)
        return headers


def result_body(
    correlation_id: str | None,
    *,
    service: str | None,
    status_code: int,
    result: Any = None,
    error: Mapping[str, Any] | None = None,
    job_id: str | None = None,
) -> bytes:
    """The message a service request's result stream gets: the output, or the error with an HTTP-style
    status code (502 when the LLM server failed, 422 for an input the service refused, ...)."""
    body: dict[str, Any] = {
        "correlation_id": correlation_id,
        "service": service,
        "status": "succeeded" if error is None else "failed",
        "status_code": status_code,
        "job_id": job_id,
    }
    if error is None:
        body["result"] = result
    else:
        body["error"] = dict(error)
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
