"""Which embedder each ``embed.provider`` setting names (one line per provider), and its query cache."""

from __future__ import annotations

from collections.abc import Callable

from ragworks.config import EmbedSettings, Settings
from ragworks.engines.embed.base import Embedder


def _minilm(settings: EmbedSettings) -> Embedder:
    from ragworks.engines.embed.minilm import MiniLMEmbedder  # torch and transformers only when chosen

    return MiniLMEmbedder(batch_size=settings.batch_size, threads=settings.threads)


PROVIDERS: dict[str, Callable[[EmbedSettings], Embedder]] = {
    "minilm": _minilm,
}


def build_embedder(settings: Settings) -> Embedder:
    """The embedder the settings name, behind a Redis query cache when ``embed.query_cache = 'redis'``
    (cheap: the model loads in ``start()``).

    Raises:
        ValueError: the Redis cache is chosen but ``redis.url`` is not set.
    """
    embedder = PROVIDERS[settings.embed.provider](settings.embed)
    if settings.embed.query_cache == "process":
        return embedder
    if not settings.redis.url:
        raise ValueError("embed.query_cache = 'redis' needs redis.url (RAGWORKS_REDIS__URL)")
    from ragworks.engines.embed.redis_cache import RedisQueryCache

    return RedisQueryCache(embedder, settings.redis.url, ttl_s=settings.embed.query_cache_ttl_s)
