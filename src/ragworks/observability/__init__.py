"""Logging, Prometheus metrics and the request-context middleware shared by the app and the CLI."""

from ragworks.observability.logging import configure_logging, get_request_id, request_id_var
from ragworks.observability.metrics import STAGES, IndexStats, Metrics
from ragworks.observability.middleware import REQUEST_ID_HEADER, RequestContextMiddleware

__all__ = [
    "REQUEST_ID_HEADER",
    "STAGES",
    "IndexStats",
    "Metrics",
    "RequestContextMiddleware",
    "configure_logging",
    "get_request_id",
    "request_id_var",
]
