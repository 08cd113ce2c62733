"""Which embedder each ``embed.provider`` setting names (one line per provider), and its query cache."""

from __future__ import annotations

from collections.abc import Callable

from ragworks.config import EmbedSettings, Settings
from ragworks.engines.embed.base import Embedder


def _minilm(settings: EmbedSettings) -> Embedder:
    from ragworks.engines.embed.minilm import MiniLMEmbedder  # torch and transformers only when chosen

    return MiniLMEmbedder(
        batch_size=settings.batch_size,
        threads=settings.threads,
        query_backend=settings.query_backend,
        onnx_dir=settings.onnx_dir,
    )


def _remote(settings: EmbedSettings) -> Embedder:
    from ragworks.engines.embed.identity import identity_from_settings
    from ragworks.engines.embed.remote import RemoteEmbedder  # grpc only when chosen

    if not settings.url:
        raise ValueError("embed.provider = 'remote' needs embed.url, host:port (RAGWORKS_EMBED__URL)")
    return RemoteEmbedder(
        settings.url,
        identity_from_settings(settings),
        timeout_s=settings.timeout_s,
        query_timeout_s=settings.query_timeout_s,
        batch_texts=settings.batch_texts,
    )


def _openai(settings: EmbedSettings) -> Embedder:
    from ragworks.engines.embed.identity import identity_from_settings
    from ragworks.engines.embed.openai_embeddings import OpenAIEmbedder

    if not settings.base_url:
        raise ValueError("embed.provider = 'openai' needs embed.base_url (RAGWORKS_EMBED__BASE_URL)")
    return OpenAIEmbedder(
        settings.base_url,
        identity_from_settings(settings),
        api_key=settings.api_key.get_secret_value(),
        timeout_s=settings.timeout_s,
        query_timeout_s=settings.query_timeout_s,
        batch_texts=settings.batch_texts,
    )


PROVIDERS: dict[str, Callable[[EmbedSettings], Embedder]] = {
    "minilm": _minilm,
    "remote": _remote,
    "openai": _openai,
}


def embed_settings(settings: Settings) -> EmbedSettings:
    """The embed section with the folders it leaves unset placed under ``data_dir``."""
    if settings.embed.onnx_dir is not None:
        return settings.embed
    return settings.embed.model_copy(update={"onnx_dir": settings.data_dir / "models"})


def build_embedder(settings: Settings) -> Embedder:
    """The embedder the settings name, behind a Redis query cache when ``embed.query_cache = 'redis'``
    (cheap: the model loads in ``start()``).

    Raises:
        ValueError: the Redis cache is chosen but ``redis.url`` is not set.
    """
    embedder = PROVIDERS[settings.embed.provider](embed_settings(settings))
    if settings.embed.query_cache == "process":
        return embedder
    if not settings.redis.url:
        raise ValueError("embed.query_cache = 'redis' needs redis.url (RAGWORKS_REDIS__URL)")
    from ragworks.engines.embed.redis_cache import RedisQueryCache

    return RedisQueryCache(embedder, settings.redis.url, ttl_s=settings.embed.query_cache_ttl_s)
