"""OpenAI-compatible endpoints: over plain HTTP, and with the official ``openai`` client on a real server."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import openai
import pytest
from fastapi.testclient import TestClient

from helpers.openai_client import client_for, model_server, sse_data
from helpers.server import Server
from helpers.service_app import MODEL_MISSING, add_documents, model_available, started_app
from ragworks.engines.embed.minilm import MiniLMEmbedder

DOCUMENTS = [
    {
        "id": "vitamin-d",
        "title": "Vitamin D",
        "text": "Vitamin D deficiency lowers bone mineral density. Adults with low vitamin D levels lose "
        "bone faster and break bones more often.",
    },
    {"id": "tea", "title": "Tea", "text": "Green tea contains catechins. It is popular in Korea and Japan."},
]
TEXTS = ["Vitamin D and bone density", "지사의 업무 범위", "The mitochondrion is the powerhouse of the cell."]
USER = [{"role": "user", "content": "What does vitamin D deficiency do to bones?"}]
GROUNDING = {"collections": ["health"], "top_k": 3}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """An app without a model (the extractive provider) and one collection."""
    with started_app(tmp_path_factory.mktemp("openai-compat")) as app:
        add_documents(app, "health", DOCUMENTS)
        yield app


@pytest.fixture(scope="module")
def reference() -> MiniLMEmbedder:
    embedder = MiniLMEmbedder()
    embedder.start()
    return embedder


def test_models_lists_the_llm_and_the_embedder(client: TestClient) -> None:
    body = client.get("/v1/models").json()

    assert body["object"] == "list"
    assert {(m["id"], m["object"]) for m in body["data"]} == {
        ("extractive", "model"),
        ("all-MiniLM-L6-v2", "model"),
    }


def test_embeddings_as_floats(client: TestClient, reference: MiniLMEmbedder) -> None:
    body = client.post("/v1/embeddings", json={"input": TEXTS, "model": "my-name"}).json()

    assert body["object"] == "list"
    assert body["model"] == "my-name"
    assert [d["index"] for d in body["data"]] == [0, 1, 2]
    assert {d["object"] for d in body["data"]} == {"embedding"}
    got = np.asarray([d["embedding"] for d in body["data"]], dtype=np.float32)
    assert np.allclose(np.sum(got * reference.embed(TEXTS), axis=1), 1.0, atol=1e-5)
    tokens = sum(reference.count_tokens(t) for t in TEXTS)
    assert body["usage"] == {"prompt_tokens": tokens, "total_tokens": tokens}


def test_embeddings_as_base64_are_the_same_float32_bytes(client: TestClient) -> None:
    floats = client.post("/v1/embeddings", json={"input": "one text"}).json()["data"][0]["embedding"]
    body = client.post("/v1/embeddings", json={"input": "one text", "encoding_format": "base64"}).json()

    decoded = np.frombuffer(base64.b64decode(body["data"][0]["embedding"]), dtype="<f4")
    assert decoded.tolist() == floats
    assert body["model"] == "all-MiniLM-L6-v2"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"input": [[101, 2023]]}, "token-id arrays are not supported"),
        ({"input": [101, 2023]}, "token-id arrays are not supported"),
        ({"input": []}, "input must not be empty"),
        ({"input": "x", "dimensions": 1536}, "384 dimensions"),
    ],
)
def test_embeddings_refuse_what_they_cannot_do(
    client: TestClient, body: dict[str, Any], message: str
) -> None:
    response = client.post("/v1/embeddings", json=body)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"
    assert message in response.json()["error"]["message"]


def test_chat_without_a_model_is_a_501(client: TestClient) -> None:
    response = client.post("/v1/chat/completions", json={"messages": USER})

    assert response.status_code == 501
    assert response.json()["error"]["code"] == "llm_unavailable"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": USER, "n": 2}, "n"),
        ({"messages": USER, "stop": ["a", "b", "c", "d", "e"]}, "stop"),
        (
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
            "messages[0].content",
        ),
    ],
)
def test_chat_refuses_what_it_cannot_do_with_a_400(
    client: TestClient, body: dict[str, Any], param: str
) -> None:
    response = client.post("/v1/chat/completions", json=body)

    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"param": param}


def test_grounded_chat_answers_with_citations_even_without_a_model(client: TestClient) -> None:
    body = client.post("/v1/chat/completions", json={"messages": USER, "ragworks": GROUNDING}).json()

    assert body["object"] == "chat.completion"
    assert "bone" in body["choices"][0]["message"]["content"]
    citations = body["ragworks"]["citations"]
    assert citations and {c["document_id"] for c in citations} <= {"vitamin-d", "tea"}
    assert citations[0]["document_id"] == "vitamin-d"


def test_grounded_chat_streams_openai_chunks(client: TestClient) -> None:
    response = client.post(
        "/v1/chat/completions",
        json={
            "messages": USER,
            "ragworks": GROUNDING,
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    )

    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_data(response)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"] == [
        {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None, "logprobs": None}
    ]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert "bone" in text
    finish = chunks[-2]
    assert finish["choices"][0]["finish_reason"] == "stop"
    assert finish["ragworks"]["citations"][0]["document_id"] == "vitamin-d"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0


def test_grounding_in_an_unknown_collection_is_a_404(client: TestClient) -> None:
    response = client.post(
        "/v1/chat/completions", json={"messages": USER, "ragworks": {"collections": ["missing"]}}
    )

    assert response.status_code == 404


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real ``ragworks serve`` with the bundled model and one collection."""
    if not model_available():
        pytest.skip(MODEL_MISSING)
    with model_server(tmp_path_factory.mktemp("openai-server") / "data") as running:
        with httpx.Client(base_url=running.url, timeout=30) as http:
            add_documents(http, "health", DOCUMENTS)
        yield running


@pytest.mark.integration
def test_official_client_chat_completion(server: Server) -> None:
    completion = client_for(server).chat.completions.create(
        model="gemma",
        messages=[{"role": "user", "content": "Name a colour."}],
        max_tokens=8,
        temperature=0,
        seed=1,
    )

    assert completion.object == "chat.completion"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content
    assert completion.choices[0].finish_reason in ("stop", "length")
    assert completion.usage is not None
    assert 0 < completion.usage.completion_tokens <= 8
    assert (
        completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    )


@pytest.mark.integration
def test_official_client_streams(server: Server) -> None:
    stream = client_for(server).chat.completions.create(
        model="gemma",
        messages=[
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "Name a fruit."},
        ],
        max_tokens=8,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] in ("stop", "length")
    usage = chunks[-1].usage
    assert usage is not None and 0 < usage.completion_tokens <= 8


@pytest.mark.integration
def test_official_client_embeddings_are_minilm_vectors(server: Server, reference: MiniLMEmbedder) -> None:
    response = client_for(server).embeddings.create(
        model="all-MiniLM-L6-v2", input=TEXTS
    )  # base64 by default

    got = np.asarray([d.embedding for d in response.data], dtype=np.float32)
    assert got.shape == (3, 384)
    assert np.allclose(np.sum(got * reference.embed(TEXTS), axis=1), 1.0, atol=1e-5)
    assert response.usage.prompt_tokens > 0


@pytest.mark.integration
def test_official_client_surfaces_our_errors(server: Server) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        client_for(server).chat.completions.create(model="gemma", messages=USER, n=2)

    assert raised.value.code == "bad_request"
    assert "only n=1 is supported" in raised.value.message


@pytest.mark.integration
def test_official_client_grounded_chat_returns_citations(server: Server) -> None:
    completion = client_for(server).chat.completions.create(
        model="gemma", messages=USER, max_tokens=48, temperature=0, extra_body={"ragworks": GROUNDING}
    )

    extension = completion.model_extra["ragworks"] if completion.model_extra else None
    assert extension is not None
    assert completion.choices[0].message.content
    assert extension["citations"][0]["document_id"] == "vitamin-d"
