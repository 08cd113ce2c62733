"""Back-pressure, deadlines and shutdown of a real ``ragworks model-serve`` with a tiny queue bound.

The document worker is kept busy by one large request (an empty queue admits any size); while it runs,
what others send waits in the queue, so the bound and the deadlines can be observed deterministically.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import grpc
import httpx
import pytest

from model_service.conftest import ModelServer, start_model_server, wait_until
from ragworks.model_service import model_pb2, model_pb2_grpc

pytestmark = pytest.mark.integration

QUEUE_BOUND = 50
LONG = "word " * 300  # 256 tokens after truncation
BUSY_TEXTS = 40  # about 10,000 tokens: a few seconds of work on a small CPU
Stub = model_pb2_grpc.ModelServiceStub


@pytest.fixture(scope="module")
def small_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelServer]:
    server = start_model_server(tmp_path_factory.mktemp("model-serve-limits"), max_queue_texts=QUEUE_BOUND)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def stub(small_server: ModelServer) -> Iterator[Stub]:
    with grpc.insecure_channel(small_server.grpc_target) as channel:
        yield model_pb2_grpc.ModelServiceStub(channel)  # type: ignore[no-untyped-call]


def send(stub: Stub, texts: list[str], timeout: float = 300) -> model_pb2.EmbedResponse:
    response: model_pb2.EmbedResponse = stub.Embed(model_pb2.EmbedRequest(texts=texts), timeout=timeout)
    return response


@contextmanager
def busy_worker(
    server: ModelServer, stub: Stub, pool: ThreadPoolExecutor
) -> Iterator[Future[model_pb2.EmbedResponse]]:
    """A large request being computed (taken from the queue), finished when the block ends."""
    taken = server.metric("ragworks_model_queue_wait_seconds_count", kind="document")
    busy = pool.submit(send, stub, [LONG] * BUSY_TEXTS)
    wait_until(
        lambda: server.metric("ragworks_model_queue_wait_seconds_count", kind="document") > taken,
        60,
        "the large request to start",
    )
    yield busy
    assert len(busy.result(timeout=300).vectors) == BUSY_TEXTS * 384 * 4


def fill_queue(
    server: ModelServer, stub: Stub, pool: ThreadPoolExecutor, texts: int
) -> Future[model_pb2.EmbedResponse]:
    """A request of ``texts`` short texts waiting in the queue."""
    waiting = pool.submit(send, stub, [f"queued text {i}" for i in range(texts)])
    wait_until(lambda: server.metric("ragworks_model_queue_texts") >= texts, 30, "the queue to fill")
    return waiting


def test_past_the_queue_bound_grpc_is_resource_exhausted_and_http_429(
    small_server: ModelServer, stub: Stub
) -> None:
    refused_before = small_server.metric("ragworks_model_refused_requests_total")
    with ThreadPoolExecutor(4) as pool, busy_worker(small_server, stub, pool):
        waiting = fill_queue(small_server, stub, pool, QUEUE_BOUND - 10)
        with pytest.raises(grpc.RpcError) as refused:
            send(stub, ["one text too many"] * 20)
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert ("retry-after", "1") in tuple(refused.value.trailing_metadata() or ())

        body = {"input": ["one text too many"] * 20, "model": "all-MiniLM-L6-v2"}
        answer = httpx.post(f"{small_server.http_url}/v1/embeddings", json=body, timeout=30)
        assert answer.status_code == 429
        assert answer.headers["retry-after"] == "1"
        assert answer.json()["error"]["type"] == "rate_limit_error"

        assert waiting.result(timeout=300) is not None  # the queued request is answered, not lost
    assert small_server.metric("ragworks_model_refused_requests_total") == refused_before + 2


def test_an_expired_request_is_dropped_without_being_computed(small_server: ModelServer, stub: Stub) -> None:
    dropped_before = small_server.metric("ragworks_model_dropped_requests_total", reason="deadline")
    with ThreadPoolExecutor(4) as pool, busy_worker(small_server, stub, pool):
        with pytest.raises(grpc.RpcError) as expired:
            send(stub, ["a request with a short deadline"], timeout=0.3)
        assert expired.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    wait_until(
        lambda: (
            small_server.metric("ragworks_model_dropped_requests_total", reason="deadline")
            == dropped_before + 1
        ),
        30,
        "the expired request to be dropped",
    )


def test_sigterm_finishes_the_call_in_flight_and_exits_cleanly(tmp_path: Path) -> None:
    server = start_model_server(tmp_path)
    with grpc.insecure_channel(server.grpc_target) as channel, ThreadPoolExecutor(1) as pool:
        stub = model_pb2_grpc.ModelServiceStub(channel)  # type: ignore[no-untyped-call]
        in_flight = pool.submit(send, stub, [LONG] * 16)
        wait_until(
            lambda: server.metric("ragworks_model_queue_wait_seconds_count", kind="document") >= 1,
            60,
            "the request to start",
        )
        assert server.stop() == 0
        assert len(in_flight.result(timeout=60).vectors) == 16 * 384 * 4
    log = server.log()
    assert "model service stopping" in log and "model service stopped" in log
