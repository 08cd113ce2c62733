"""A real ``ragworks model-serve`` over gRPC and HTTP: same vectors as in process, shared batches."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import grpc
import httpx
import numpy as np
import numpy.typing as npt
import openai
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from model_service.conftest import ModelServer
from ragworks.engines.embed.minilm import MiniLMEmbedder
from ragworks.model_service import model_pb2, model_pb2_grpc

pytestmark = pytest.mark.integration

TOLERANCE = 1e-5
TEXTS = [
    "Tidal energy is predictable because the tides follow the moon.",
    "짧은 한국어 문장입니다",
    "launch day 🚀 with emoji and a NUL\x00byte",
    "word " * 400,  # over the model's 256 tokens: truncated like in process
    "x",
]
Stub = model_pb2_grpc.ModelServiceStub


def served_vectors(response: model_pb2.EmbedResponse) -> npt.NDArray[np.float32]:
    rows: npt.NDArray[np.float32] = np.frombuffer(response.vectors, dtype="<f4").reshape(
        -1, response.dimension
    )
    return rows


def embed(
    stub: Stub, texts: list[str], kind: model_pb2.TextKind = model_pb2.TEXT_KIND_DOCUMENT
) -> npt.NDArray[np.float32]:
    return served_vectors(stub.Embed(model_pb2.EmbedRequest(texts=texts, kind=kind), timeout=60))


def test_info_describes_the_served_embedder(model_stub: Stub) -> None:
    info = model_stub.Info(model_pb2.InfoRequest(), timeout=10)
    assert (info.model, info.dimension, info.max_tokens) == ("all-MiniLM-L6-v2", 384, 256)
    assert list(info.languages) == ["en"]
    assert info.llm_model == ""


def test_health_service_says_serving(model_server: ModelServer) -> None:
    with grpc.insecure_channel(model_server.grpc_target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "ragworks.model.v1.ModelService"):
            answer = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
    assert httpx.get(f"{model_server.http_url}/health").json() == {"status": "ok"}


def test_document_vectors_equal_the_in_process_embedder(
    model_stub: Stub, reference_embedder: MiniLMEmbedder
) -> None:
    response = model_stub.Embed(model_pb2.EmbedRequest(texts=TEXTS), timeout=60)
    assert response.model == "all-MiniLM-L6-v2"
    assert np.abs(served_vectors(response) - reference_embedder.embed(TEXTS)).max() < TOLERANCE
    assert list(response.token_counts) == [reference_embedder.count_tokens(text) for text in TEXTS]


def test_query_vectors_equal_the_in_process_query_path(
    model_stub: Stub, reference_embedder: MiniLMEmbedder
) -> None:
    served = embed(model_stub, TEXTS, model_pb2.TEXT_KIND_QUERY)
    expected = np.vstack([reference_embedder.submit_query(text).result() for text in TEXTS])
    assert np.abs(served - expected).max() < TOLERANCE


def test_count_tokens_equals_the_in_process_embedder(
    model_stub: Stub, reference_embedder: MiniLMEmbedder
) -> None:
    answer = model_stub.CountTokens(model_pb2.CountTokensRequest(texts=TEXTS), timeout=10)
    assert list(answer.counts) == [reference_embedder.count_tokens(text) for text in TEXTS]


def test_empty_request_gives_no_rows(model_stub: Stub) -> None:
    assert embed(model_stub, []).shape == (0, 384)


@pytest.mark.parametrize("texts", [["t"] * 2049, ["x" * 100_001]], ids=["too-many-texts", "text-too-long"])
def test_input_over_the_limits_is_invalid_argument(model_stub: Stub, texts: list[str]) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        model_stub.Embed(model_pb2.EmbedRequest(texts=texts), timeout=30)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_generate_without_a_served_llm_is_failed_precondition(model_stub: Stub) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        model_stub.Generate(model_pb2.GenerateRequest(prompt="Once upon a time", max_tokens=4), timeout=10)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_concurrent_callers_are_batched_together(model_server: ModelServer, model_stub: Stub) -> None:
    batches_before = model_server.metric("ragworks_model_batch_texts_count", kind="document")
    texts_before = model_server.metric("ragworks_model_batch_texts_sum", kind="document")
    callers = 16
    start = threading.Barrier(callers)

    def one_caller(number: int) -> npt.NDArray[np.float32]:
        text = f"caller {number} asks about glaciers, rivers and the tides of the northern sea"
        start.wait()
        row: npt.NDArray[np.float32] = embed(model_stub, [text])[0]
        return row

    with ThreadPoolExecutor(callers) as pool:
        rows = list(pool.map(one_caller, range(callers)))

    batches = model_server.metric("ragworks_model_batch_texts_count", kind="document") - batches_before
    texts = model_server.metric("ragworks_model_batch_texts_sum", kind="document") - texts_before
    assert texts == callers
    assert batches < callers  # at least one forward pass served several callers
    assert len({row.tobytes() for row in rows}) == callers  # each caller got its own row


def test_openai_client_gets_the_same_vectors(
    model_server: ModelServer, reference_embedder: MiniLMEmbedder
) -> None:
    client = openai.OpenAI(base_url=f"{model_server.http_url}/v1", api_key="none", max_retries=0)
    expected = reference_embedder.embed(TEXTS)
    for encoding in ("float", "base64"):
        answer = client.embeddings.create(input=TEXTS, model="all-MiniLM-L6-v2", encoding_format=encoding)
        if encoding == "base64":  # the client hands base64 through as a string when asked explicitly
            rows = np.vstack([np.frombuffer(_b64(item.embedding), dtype="<f4") for item in answer.data])
        else:
            rows = np.array([item.embedding for item in answer.data], dtype=np.float32)
        assert np.abs(rows - expected).max() < TOLERANCE, encoding
        assert answer.usage.prompt_tokens == sum(reference_embedder.count_tokens(t) for t in TEXTS)
    default = client.embeddings.create(input="covid-19", model="all-MiniLM-L6-v2")
    assert (
        np.abs(np.array(default.data[0].embedding) - reference_embedder.embed(["covid-19"])[0]).max() < 1e-5
    )


def test_http_query_input_type_takes_the_query_path(
    model_server: ModelServer, reference_embedder: MiniLMEmbedder
) -> None:
    body = {"input": "how do vaccines work", "model": "all-MiniLM-L6-v2", "input_type": "query"}
    answer = httpx.post(f"{model_server.http_url}/v1/embeddings", json=body, timeout=30).json()
    expected = reference_embedder.submit_query("how do vaccines work").result()
    assert np.abs(np.array(answer["data"][0]["embedding"]) - expected).max() < TOLERANCE


def test_http_bad_input_is_400_with_an_openai_error(model_server: ModelServer) -> None:
    client = openai.OpenAI(base_url=f"{model_server.http_url}/v1", api_key="none", max_retries=0)
    with pytest.raises(openai.BadRequestError) as refused:
        client.embeddings.create(input=["x" * 100_001], model="all-MiniLM-L6-v2")
    assert "characters" in refused.value.message
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(input=["x"], model="text-embedding-3-small")


def test_http_lists_models_and_serves_metrics(model_server: ModelServer) -> None:
    models = httpx.get(f"{model_server.http_url}/v1/models").json()
    assert [card["id"] for card in models["data"]] == ["all-MiniLM-L6-v2"]
    text = model_server.metrics()
    for name in (
        "batch_tokens",
        "queue_wait_seconds",
        "queue_texts",
        "tokens_total",
        "refused_requests_total",
    ):
        assert f"ragworks_model_{name}" in text


def _b64(value: object) -> bytes:
    import base64

    assert isinstance(value, str)
    return base64.b64decode(value)
