"""Settings of the models and of search: the embedder, hybrid fusion, the LLM and the model service
(``ragworks.config`` re-exports them as part of ``Settings``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr


class EmbedSettings(BaseModel):
    provider: Literal["minilm", "remote", "openai"] = Field(
        "minilm",
        description="Embedder: 'minilm' = the bundled all-MiniLM-L6-v2, in-process; 'remote' = a "
        "`ragworks model-serve` over gRPC (embed.url); 'openai' = any OpenAI-compatible /v1/embeddings "
        "server (embed.base_url: TEI, Infinity, vLLM, Ollama, model-serve's HTTP side).",
    )
    url: str | None = Field(None, description="'remote': the model service's gRPC target, host:port.")
    base_url: str | None = Field(
        None, description="'openai': the server's API root, e.g. http://127.0.0.1:8081/v1."
    )
    model: str = Field(
        "all-MiniLM-L6-v2",
        description="'remote', 'openai': the model the service serves (checked at start for 'remote'; "
        "sent with each request for 'openai').",
    )
    api_key: SecretStr = Field(SecretStr("none"), description="'openai': API key (local servers ignore it).")
    dimension: int | None = Field(
        None,
        ge=1,
        description="'remote', 'openai': vector length; unset = known from the model's name (MiniLM: 384), "
        "else set it. Checked against the service at start.",
    )
    max_tokens: int | None = Field(
        None, ge=1, description="'remote', 'openai': the model's input limit; unset = known from its name."
    )
    languages: list[str] | None = Field(
        None,
        description="'remote', 'openai': ISO 639-1 codes the model understands (hybrid search gives the "
        "vector leg weight only for these); unset = known from the model's name.",
    )
    timeout_s: float = Field(
        30.0, gt=0, description="'remote', 'openai': deadline of one call embedding documents, and of start."
    )
    query_timeout_s: float = Field(
        2.0,
        gt=0,
        description="'remote', 'openai': deadline of one query embedding or token count; a search whose "
        "model service is down answers 503 within it.",
    )
    batch_texts: int = Field(
        64, ge=1, le=4096, description="'remote', 'openai': documents sent per call at most."
    )
    query_cache: Literal["process", "redis"] = Field(
        "process",
        description="Where query vectors are remembered: 'process' (each process's own LRU) or 'redis' "
        "(shared by every API process through redis.url, in front of each process's LRU).",
    )
    query_cache_ttl_s: int = Field(86_400, ge=1, description="'redis': how long a query vector is kept.")
    batch_size: int = 64
    max_wait_ms: float = Field(5.0, description="How long a partial batch waits for more texts.")
    threads: int = Field(0, description="Torch threads; 0 keeps the library default (all cores).")
    query_backend: Literal["torch", "onnx"] = Field(
        "torch",
        description="'minilm': what runs the forward pass of a query (documents always run on torch). "
        "'onnx' = ONNX Runtime on the bundled model exported and fused once into embed.onnx_dir, the same "
        "vectors to float32 rounding, faster per query (docs/benchmarks.md, 'Query embedding'); needs "
        "pip install 'ragworks[onnx]'.",
    )
    onnx_dir: Path | None = Field(
        None, description="'onnx' query backend: where the built graph is cached; unset = <data_dir>/models."
    )


class SearchSettings(BaseModel):
    fusion: str = Field(
        "minmax",
        description="Hybrid fusion of a collection not calibrated yet: 'minmax' (weighted min-max "
        "normalised scores), 'zscore' (weighted z-scores) or 'rrf'.",
    )
    vector_weight: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Weight of the vector leg in hybrid fusion of a collection not calibrated yet, for a "
        "query whose best vector match has cosine 'confidence_center' (tuned on SciFact train queries).",
    )
    weight_by_confidence: bool = Field(
        True,
        description="Move each hybrid query's vector weight with the embedder's confidence: "
        "vector_weight + confidence_slope × (best cosine − confidence_center), kept within 0.1–0.9. The "
        "closer the query's best vector match, the more the vector leg counts. A request's vector_weight "
        "is used as given.",
    )
    confidence_center: float = Field(
        0.6,
        description="The best-match cosine at which a query gets vector_weight as it is. A property of the "
        "embedding model (MiniLM's typical best match); set it for another model.",
    )
    confidence_slope: float = Field(
        1.75, ge=0.0, description="How fast the vector weight moves with the best-match cosine."
    )
    calibrate: bool = Field(
        False,
        description="Choose each collection's fusion from pseudo-queries of its own documents (experimental: "
        "on the MS MARCO subset it chose a weight below the default's, docs/benchmarks.md); false: every "
        "collection uses 'fusion' and 'vector_weight'.",
    )
    calibration_min_documents: int = Field(
        100, description="Collections smaller than this keep the default fusion (too few to calibrate on)."
    )
    calibration_pseudo_queries: int = Field(
        200, description="Pseudo-queries drawn from a collection's chunks to calibrate its fusion."
    )
    calibration_growth: float = Field(
        0.5, description="Calibrate again once the document count has grown by this fraction."
    )
    rrf_k: int = 60
    candidates: int = Field(100, description="Hits taken from each leg before fusion.")
    max_top_k: int = 1000


class LLMSettings(BaseModel):
    provider: Literal["llamacpp", "openai", "extractive"] = Field(
        "llamacpp",
        description=(
            "'llamacpp' (the default): a GGUF model in-process, the bundled Gemma 3 270M unless "
            "llm.model_path names another; 'openai': any OpenAI-compatible server (vLLM, Ollama, llama.cpp "
            "server, OpenAI); 'extractive': no model, answers and summaries are built from the best source "
            "sentences."
        ),
    )
    model_path: Path | None = Field(
        None, description="GGUF file for 'llamacpp'; unset = bundled Gemma 3 270M."
    )
    context_tokens: int = Field(8192, description="Context window used by the model (prompt + output).")
    load: Literal["first_use", "start"] = Field(
        "first_use",
        description="'llamacpp': load the model when a service first needs it (a server that only "
        "ingests and searches never holds its ~500 MB), or at start so the first answer is not slower.",
    )
    threads: int = Field(
        0,
        description="llama.cpp threads; 0 = half the cores (its threads spin-wait, so all cores starve others).",
    )
    base_url: str | None = Field(None, description="'openai': server URL, e.g. http://localhost:8001/v1.")
    api_key: SecretStr = Field(SecretStr("none"), description="'openai': API key (local servers ignore it).")
    model: str = Field("", description="'openai': model name sent to the server.")
    api: Literal["completions", "chat"] = Field(
        "completions", description="'openai': prompt the completions endpoint or the chat endpoint."
    )
    timeout_s: float = Field(60.0, description="'openai': per-request timeout.")
    max_retries: int = Field(2, description="'openai': retries of failed requests, with backoff.")


class ModelServiceSettings(BaseModel):
    """``ragworks model-serve``: the embedder (and optionally the LLM) served over gRPC and HTTP."""

    host: str = Field("127.0.0.1", description="Interface both servers listen on.")
    grpc_port: int = Field(50051, ge=0, le=65535, description="Port of the gRPC ModelService.")
    http_port: int = Field(
        8090, ge=0, le=65535, description="Port of the OpenAI-compatible HTTP API (/v1/embeddings)."
    )
    max_batch_tokens: int = Field(
        8192, ge=1, description="Token budget of one forward pass formed from concurrent requests."
    )
    max_wait_ms: float = Field(
        2.0, ge=0, description="How long a batch waits for more requests after its first one arrived."
    )
    max_queue_texts: int = Field(
        4096,
        ge=1,
        description="Texts waiting at most; requests past it are refused (RESOURCE_EXHAUSTED / HTTP 429).",
    )
    max_texts_per_request: int = Field(
        2048, ge=1, description="Texts one request may carry (INVALID_ARGUMENT / HTTP 400 above)."
    )
    max_text_chars: int = Field(
        100_000, ge=1, description="Characters one text may have (INVALID_ARGUMENT / HTTP 400 above)."
    )
    serve_llm: bool = Field(
        False, description="Also serve the LLM that llm.provider names (Generate, /v1/completions)."
    )
    retry_after_s: int = Field(1, ge=1, description="Retry-After sent with HTTP 429 when the queue is full.")
