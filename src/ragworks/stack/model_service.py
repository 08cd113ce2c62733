"""The stack's optional model service (``[stack] model_service = true``): ``ragworks model-serve``.

It starts in tier 0 with the servers, so the API, the workers and the stream consumers find their
embedder serving when they start; they get ``embed.provider = "remote"`` and ``embed.url`` pointing at
it, and the model is loaded once for the whole stack instead of once per process.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

from ragworks.config import Settings
from ragworks.stack import StackError
from ragworks.stack.probes import Probe, connect_host, free_port
from ragworks.stack.process import ProcessSpec

CLIENT_PROVIDER = "remote"


def model_service_ports(settings: Settings) -> tuple[int, int]:
    """(gRPC port, HTTP port) the service will listen on; a port set to 0 is chosen now, so the other
    processes can be told where it is."""
    served = settings.model_service
    host = served.host
    return (served.grpc_port or free_port(host), served.http_port or free_port(host))


def model_service_target(settings: Settings, grpc_port: int) -> str:
    """The gRPC target the other processes call (``embed.url``)."""
    return f"{connect_host(settings.model_service.host)}:{grpc_port}"


def model_service_spec(settings: Settings, env: Mapping[str, str], ports: tuple[int, int]) -> ProcessSpec:
    """``ragworks model-serve``, ready when the gRPC health service reports SERVING (the model loaded).

    Raises:
        StackError: the settings already point the embedder elsewhere (remote or openai).
    """
    if settings.embed.provider != "minilm":
        raise StackError(
            f"[stack] model_service = true serves the bundled embedder, but embed.provider is "
            f"'{settings.embed.provider}': remove embed.provider from [settings], or set "
            "model_service = false to use that embedder"
        )
    grpc_port, http_port = ports
    host = settings.model_service.host
    return ProcessSpec(
        "model-service",
        [sys.executable, "-m", "ragworks", "model-serve"],
        env={
            **env,
            "RAGWORKS_MODEL_SERVICE__HOST": host,
            "RAGWORKS_MODEL_SERVICE__GRPC_PORT": str(grpc_port),
            "RAGWORKS_MODEL_SERVICE__HTTP_PORT": str(http_port),
        },
        tier=0,
        host=host,
        port=grpc_port,
        ready=grpc_serving(model_service_target(settings, grpc_port)),
        setting="settings.model_service.grpc_port",
    )


def grpc_serving(target: str) -> Probe:
    """A probe: the standard gRPC health service at ``target`` answers SERVING."""

    def probe() -> bool:
        import grpc
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        with grpc.insecure_channel(target) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=2.0)
            except grpc.RpcError:
                return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    return probe
