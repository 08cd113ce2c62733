"""One settings root of nested per-area models (env prefix ``RAGWORKS_``, nested with ``__``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from ragworks.model_settings import EmbedSettings as EmbedSettings
from ragworks.model_settings import LLMSettings as LLMSettings
from ragworks.model_settings import ModelServiceSettings as ModelServiceSettings
from ragworks.model_settings import SearchSettings as SearchSettings


class ServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8000
    max_upload_bytes: int = Field(50 * 1024 * 1024, description="Largest accepted request body (413 above).")
    switch_interval_ms: float = Field(
        1.0,
        gt=0,
        description="How long a thread may keep the GIL while another waits (Python's default is 5). "
        "Every model call hands the GIL over and waits to get it back; with requests and writes "
        "busy in Python beside it, 5 ms per hand-over made one query embedding take 350 ms.",
    )
    freeze_heap: bool = Field(
        True,
        description="After start-up, take every object then alive (models, modules, indexes) out of the "
        "garbage collector's full passes (gc.freeze). Each full pass over them took 90-400 ms on 2 cores "
        "and stalled every request in flight.",
    )
    request_timeout_s: float = Field(
        120.0,
        gt=0,
        description="Longest a request may take until its response starts (504 after it, and the work "
        "is cancelled); a streamed answer (SSE) that has started is not cut. Uploads must arrive within it.",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or networks (CIDR) of reverse proxies whose X-Forwarded-For names the "
        "client, for per-IP rate limits; unset = the connecting address is the client.",
    )


class IngestSettings(BaseModel):
    chunk_tokens: int = Field(256, description="Chunk size in embedder tokens.")
    chunk_overlap_tokens: int = 32
    group_chunks: int = Field(
        2048,
        ge=1,
        description="Chunks embedded and indexed together. A batch of ingest jobs whose documents have "
        "more is done in groups of about this many, each ready (and its jobs completed) before the next "
        "is embedded: memory stays bounded and the first documents of a large upload do not wait for "
        "the last.",
    )
    keyword_chunk_tokens: int = Field(
        1024,
        description=(
            "Chunk size for documents in a language the embedder does not understand: their vectors carry "
            "no signal, so chunks are sized for BM25 (1024 MiniLM tokens of Korean ≈ 200 words, about "
            "the word count of a 256-token English chunk)."
        ),
    )
    max_pages: int = 2000
    max_uncompressed_bytes: int = 200 * 1024 * 1024
    max_compression_ratio: float = 100.0
    max_text_chars: int = Field(
        20_000_000, ge=1, description="Characters of text one file may yield; more fails its job."
    )
    parse_timeout_s: float = 120.0
    parser_processes: int = 1
    parser_memory_bytes: int | None = Field(
        2 * 1024**3,
        ge=64 * 1024**2,
        description="Address space of each parser process (RLIMIT_AS): a file whose parsing needs more "
        "fails its job (document_limit_exceeded) instead of taking the machine's memory. None: no cap.",
    )


class JobSettings(BaseModel):
    ingest_batch: int = Field(
        256,
        ge=1,
        description="Ingest jobs processed together. The embedder sorts a batch's chunks by length before "
        "cutting its own batches, so the more documents, the less padding: 3,000 short passages took "
        "48 s in batches of 32, 29 s in batches of 256.",
    )
    ingest_lanes: int = Field(
        2, ge=1, le=8, description="Ingest batches in flight; two let one batch embed while another indexes."
    )
    max_attempts: int = 4
    backoff_base_s: float = 2.0
    backoff_max_s: float = 300.0
    outage_retry_max_s: float = Field(
        30.0,
        gt=0,
        description="Longest wait between the retries of a job that failed because a part was down or "
        "full (the disk, a busy store, the model service). Such attempts do not count toward max_attempts: "
        "the job waits out the outage and goes on within this long of its end.",
    )
    lease_s: float = Field(
        20.0,
        gt=0,
        description="How long a leased job is a worker's; a killed worker's jobs run again after this.",
    )
    heartbeat_s: float = Field(5.0, gt=0, description="How often a worker extends its leases (< lease_s).")
    poll_interval_s: float = 1.0
    metrics_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="`ragworks worker` serves Prometheus metrics on this port (0: off); the API and "
        "`ragworks serve` serve them on GET /metrics.",
    )


class StoreSettings(BaseModel):
    url: str | None = Field(
        None,
        description="Database of documents, chunks and jobs: unset = a SQLite file in the data dir (the "
        "embedded profile); 'postgresql+psycopg://user:password@host/db' for the scaled profile.",
    )
    lock_timeout_s: float = Field(
        30.0, gt=0, description="How long a write waits for a locked database before answering 503 busy."
    )


class QueueSettings(BaseModel):
    provider: Literal["database"] = Field(
        "database",
        description="Where jobs live: 'database' keeps them as rows of the store's database, written in the "
        "same transaction as the documents they refer to.",
    )


class IndexSettings(BaseModel):
    provider: Literal["local", "postgres"] = Field(
        "local",
        description="Search index: 'local' = tantivy BM25 + usearch HNSW files in the data dir (one "
        "process); 'postgres' = BM25 postings and pgvector HNSW in PostgreSQL, shared by every process.",
    )
    url: str | None = Field(
        None, description="'postgres': the database of the index; unset = the store's (store.url)."
    )


class RedisSettings(BaseModel):
    url: str | None = Field(
        None, description="Redis for what the scaled profile shares, e.g. redis://localhost:6379/0."
    )


class ServiceSettings(BaseModel):
    local_dir: Path = Field(
        Path("./services"),
        description="Folder of service modules loaded at start (what `ragworks new-service` writes).",
    )
    entry_points: bool = Field(True, description="Load services of installed packages ('ragworks.services').")
    max_attempts: int = Field(2, description="Attempts of a background service call before it is dead.")
    lanes: int = Field(2, ge=1, le=16, description="Background service calls run at the same time.")


class CallbackSettings(BaseModel):
    secret: SecretStr | None = Field(
        None,
        description=(
            "HMAC-SHA256 key that signs callback bodies; unset = a random key kept in "
            "<data_dir>/callback.secret (created on first start)."
        ),
    )
    timeout_s: float = 10.0
    max_attempts: int = Field(6, description="Delivery attempts (exponential backoff) before dead-letter.")


class WebhookSettings(BaseModel):
    url: str = Field(..., description="Where events are POSTed (signed like callbacks).")
    kinds: list[str] = Field(
        ["*"],
        description="Event kinds it wants, as fnmatch patterns ('document.*', 'job.dead'); all by default.",
    )
    collections: list[str] | None = Field(
        None,
        description="Collections whose events it wants; unset = every collection (and events without one).",
    )


class EventSettings(BaseModel):
    webhooks: list[WebhookSettings] = Field(
        [],
        description="Receivers of job and document events, each a signed 'callback.deliver' job enqueued in "
        "the transaction that records the outcome, e.g. "
        '[{"url": "https://example.org/hook", "kinds": ["document.*"], "collections": ["docs"]}].',
    )
    stream_url: str | None = Field(
        None,
        description="Broker that receives events as 'stream.publish' jobs (redis://, nats://, kafka://, "
        "pubsub://); unset = no event stream.",
    )
    stream: str = Field(
        "ragworks.events", description="The stream, subject or topic events are published to."
    )
    stream_kinds: list[str] = Field(
        ["*"], description="Event kinds published to the stream, as fnmatch patterns; all by default."
    )
    retention_s: float = Field(
        7 * 86_400.0,
        gt=0,
        description="How long events are kept in the events table (GET /v1/events) before the worker purges them.",
    )


class UsageSettings(BaseModel):
    enabled: bool = Field(True, description="Write the request log and roll usage up into the database.")
    log_path: Path | None = Field(
        None, description="The request log (JSON lines); unset = <data_dir>/logs/requests.jsonl."
    )
    log_max_bytes: int = Field(
        50 * 1024 * 1024,
        ge=1024,
        description="Size at which the request log is rotated (requests.jsonl.1, ...).",
    )
    log_backups: int = Field(5, ge=0, description="Rotated request logs kept; the oldest is deleted.")
    flush_interval_s: float = Field(
        10.0, gt=0, description="How often each API process adds its in-memory rollups to the database."
    )
    query_max_chars: int = Field(
        200, ge=1, le=4000, description="Longest query text kept in the log and the query rollups."
    )
    top_queries_per_day: int = Field(
        1000,
        ge=1,
        description="Queries kept per day in the rollups: the most frequent, and the most frequent "
        "without results; rarer ones are pruned so the table stays bounded.",
    )


class AuthSettings(BaseModel):
    """API keys, scopes and tenants (see docs/security.md)."""

    enabled: bool | None = Field(
        None,
        description="Require an API key on every /v1 route, /metrics and the dashboard. Unset: off for "
        "`ragworks serve` (local use), on for the scaled profile (`ragworks api`, `ragworks up`).",
    )
    cache_ttl_s: float = Field(
        5.0,
        ge=0,
        description="How long a verified key is trusted without reading the database again; a revoked "
        "key stops working within this time.",
    )
    public_metrics: bool = Field(
        False, description="Serve /metrics without a key (for a Prometheus that cannot send one)."
    )


class RateLimitSettings(BaseModel):
    """Per-key token buckets (in memory for `ragworks serve`, in Redis for the scaled profile)."""

    enabled: bool | None = Field(
        None,
        description="Answer 429 with Retry-After once a caller's bucket is empty: true = every caller, "
        "by API key, else by IP; unset = only requests made with an API key (auth on), so a local "
        "`ragworks serve` and its benchmarks are never throttled; false = off.",
    )
    requests_per_s: float = Field(
        50.0, gt=0, description="Sustained requests per second per API key (or IP)."
    )
    burst: int = Field(100, ge=1, description="Requests a caller may make at once before the rate applies.")
    backend: Literal["auto", "memory", "redis"] = Field(
        "auto", description="Where buckets live; auto = Redis when redis.url is set, else in memory."
    )
    max_buckets: int = Field(
        100_000,
        ge=1,
        description="'memory': callers tracked at most; past it the least recently seen bucket is dropped.",
    )
    redis_timeout_s: float = Field(
        0.05,
        gt=0,
        description="'redis': deadline of one bucket check; a slower or absent Redis lets requests through "
        "unchecked (logged, counted in ragworks_rate_limit_unchecked_total) rather than refusing them.",
    )


class CorsSettings(BaseModel):
    """Cross-origin requests from browser apps (off unless origins are listed)."""

    allow_origins: list[str] = Field(
        default_factory=list, description="Origins allowed to call the API from a browser ('*' for any)."
    )
    allow_credentials: bool = Field(
        False,
        description="Let browsers send cookies with requests (not with '*'). API keys in the "
        "Authorization or X-API-Key header need no credentials.",
    )
    allow_headers: list[str] = Field(
        default_factory=lambda: ["Authorization", "X-API-Key", "Content-Type", "X-Request-ID", "Prefer"],
        description="Request headers a browser app may send (beyond the always-allowed simple ones).",
    )
    max_age_s: int = Field(600, ge=0, description="How long browsers cache a preflight answer.")


class Settings(BaseSettings):
    """Everything configurable; validated at start-up and passed in, never read from globals."""

    model_config = SettingsConfigDict(
        env_prefix="RAGWORKS_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    data_dir: Path = Path("./data")
    log_level: str = "INFO"
    log_json: bool = True
    server: ServerSettings = ServerSettings()
    ingest: IngestSettings = IngestSettings()
    store: StoreSettings = StoreSettings()
    queue: QueueSettings = QueueSettings()
    index: IndexSettings = IndexSettings()
    jobs: JobSettings = JobSettings()
    embed: EmbedSettings = EmbedSettings()
    redis: RedisSettings = RedisSettings()
    search: SearchSettings = SearchSettings()
    llm: LLMSettings = LLMSettings()
    services: ServiceSettings = ServiceSettings()
    callbacks: CallbackSettings = CallbackSettings()
    events: EventSettings = EventSettings()
    usage: UsageSettings = UsageSettings()
    model_service: ModelServiceSettings = ModelServiceSettings()
    auth: AuthSettings = AuthSettings()
    rate_limits: RateLimitSettings = RateLimitSettings()
    cors: CorsSettings = CorsSettings()

    @property
    def database_url(self) -> str:
        """``store.url``, or the SQLite file inside the data directory."""
        return self.store.url or f"sqlite:///{(self.data_dir / 'ragworks.db').resolve()}"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"
