"""Rate limits on the real app: token buckets per caller, 429 with Retry-After in the error shape, the
RateLimit headers, exempt probes, the counters, client addresses behind trusted proxies; and as the
scaled profile has them: per API key, in Redis, failing open while Redis stalls."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from helpers.redis import redis_server
from ragworks.app import create_app
from ragworks.auth.admin import KeyAdmin, KeyRequest
from ragworks.auth.wiring import key_store_for
from ragworks.config import (
    AuthSettings,
    LLMSettings,
    RateLimitSettings,
    RedisSettings,
    ServerSettings,
    Settings,
)
from ragworks.engines.ratelimit.memory import MemoryRateLimiter
from ragworks.engines.ratelimit.providers import build_rate_limiter
from ragworks.engines.ratelimit.redis import PAUSE_AFTER_FAILURE_S, RedisRateLimiter

BURST = 3
PROXY = "127.0.0.1"  # the test client connects from here, a trusted proxy: X-Forwarded-For is believed
_addresses = (f"203.0.113.{n}" for n in itertools.count(1))


def settings_for(data_dir: Path, enabled: bool | None = True, **overrides: object) -> Settings:
    """An app without a language model whose callers may make BURST requests, then one per 2 s."""
    return Settings(
        data_dir=data_dir,
        log_json=False,
        llm=LLMSettings(provider="extractive"),
        rate_limits=RateLimitSettings(enabled=enabled, requests_per_s=0.5, burst=BURST),
        server=ServerSettings(trusted_proxies=[PROXY]),
        **overrides,
    )


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The app with in-memory buckets (what `ragworks serve` has), called through a trusted proxy."""
    app = create_app(settings_for(tmp_path_factory.mktemp("data")))
    with TestClient(app, client=(PROXY, 50000)) as client:
        yield client


@pytest.fixture
def caller() -> dict[str, str]:
    """Headers of a client address no other test uses, so each test starts with a full bucket."""
    return {"X-Forwarded-For": f"198.51.100.200, {next(_addresses)}"}


def counter(client: TestClient, name: str, headers: dict[str, str] | None = None) -> float:
    """The value of an unlabelled counter on the app's /metrics (``headers``: an admin key's)."""
    for family in text_string_to_metric_families(client.get("/metrics", headers=headers).text):
        for sample in family.samples:
            if sample.name == f"{name}_total":
                return sample.value
    raise AssertionError(f"{name} is not on /metrics")


def exhaust(client: TestClient, headers: dict[str, str]) -> list[httpx.Response]:
    """BURST + 1 requests: the whole bucket, and one refused."""
    return [client.get("/v1/collections", headers=headers) for _ in range(BURST + 1)]


def test_answered_requests_carry_the_limit_and_what_remains(
    limited: TestClient, caller: dict[str, str]
) -> None:
    responses = [limited.get("/v1/collections", headers=caller) for _ in range(BURST)]
    assert [r.status_code for r in responses] == [200] * BURST
    assert {r.headers["RateLimit-Limit"] for r in responses} == {str(BURST)}
    assert [r.headers["RateLimit-Remaining"] for r in responses] == ["2", "1", "0"]


def test_a_request_past_the_burst_is_refused_with_retry_after(
    limited: TestClient, caller: dict[str, str]
) -> None:
    refused = exhaust(limited, caller)[-1]
    assert refused.status_code == 429
    retry_after = int(refused.headers["Retry-After"])
    assert retry_after == 2  # an empty bucket gets a token back after 1 / (0.5 per s)
    error = refused.json()["error"]
    assert error["code"] == "rate_limited"
    assert "retry in 2 s" in error["message"]
    assert error["details"] == {"retry_after_s": retry_after}
    assert refused.headers["RateLimit-Remaining"] == "0"
    assert refused.headers["X-Request-ID"]  # refused inside the request context: logged and counted


def test_probes_and_metrics_are_never_limited(limited: TestClient, caller: dict[str, str]) -> None:
    for path in ("/health", "/ready", "/metrics"):
        responses = [limited.get(path, headers=caller) for _ in range(BURST + 2)]
        assert {r.status_code for r in responses} == {200}, path
        assert all("RateLimit-Limit" not in r.headers for r in responses)
    first = limited.get("/v1/collections", headers=caller)
    assert first.headers["RateLimit-Remaining"] == str(BURST - 1)  # the probes took nothing


def test_refusals_are_counted(limited: TestClient, caller: dict[str, str]) -> None:
    before = counter(limited, "ragworks_rate_limited")
    exhaust(limited, caller)
    limited.get("/v1/collections", headers=caller)
    assert counter(limited, "ragworks_rate_limited") == before + 2


def test_clients_behind_a_trusted_proxy_have_buckets_of_their_own(limited: TestClient) -> None:
    first = {"X-Forwarded-For": next(_addresses)}
    assert exhaust(limited, first)[-1].status_code == 429
    second = {"X-Forwarded-For": next(_addresses)}
    assert limited.get("/v1/collections", headers=second).status_code == 200


def test_a_client_cannot_pick_its_bucket_by_sending_x_forwarded_for(limited: TestClient) -> None:
    direct = TestClient(limited.app, client=("192.0.2.10", 40000))  # not a trusted proxy
    try:
        statuses = [
            direct.get("/v1/collections", headers={"X-Forwarded-For": next(_addresses)}).status_code
            for _ in range(BURST + 1)
        ]
    finally:
        direct.close()  # the app was started by `limited`; this client only sends requests
    assert statuses == [200] * BURST + [429]


def test_with_limits_unset_requests_without_an_api_key_are_not_limited(client: TestClient) -> None:
    """The package's app has default settings: auth off for `ragworks serve`, limits unset."""
    responses = [client.get("/v1/collections") for _ in range(5)]
    assert {r.status_code for r in responses} == {200}
    assert all("RateLimit-Limit" not in r.headers for r in responses)


def test_auto_picks_redis_when_redis_url_is_set(tmp_path: Path) -> None:
    assert isinstance(build_rate_limiter(Settings(data_dir=tmp_path)), MemoryRateLimiter)
    shared = Settings(data_dir=tmp_path, redis=RedisSettings(url="redis://127.0.0.1:1/0"))
    assert isinstance(build_rate_limiter(shared), RedisRateLimiter)


def test_the_redis_backend_needs_redis_url(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, rate_limits=RateLimitSettings(backend="redis"))
    with pytest.raises(ValueError, match="redis.url"):
        build_rate_limiter(settings)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis server for this module's scaled-profile app."""
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(scope="module")
def scaled(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[TestClient]:
    """The app as the scaled profile has it: API keys required, ``rate_limits.enabled`` unset (only
    requests made with a key are limited) and the buckets in Redis (backend auto, ``redis.url`` set)."""
    settings = settings_for(
        tmp_path_factory.mktemp("data"),
        enabled=None,
        auth=AuthSettings(enabled=True),
        redis=RedisSettings(url=redis_url),
    )
    with TestClient(create_app(settings), client=(PROXY, 50000)) as client:
        yield client


@pytest.fixture(scope="module")
def key_admin(scaled: TestClient) -> KeyAdmin:
    """Key use-cases on the scaled app's own database (as `ragworks keys` would open it)."""
    return KeyAdmin(key_store_for(scaled.app.state.container.core.stores))  # type: ignore[attr-defined]


@pytest.fixture
def api_key(key_admin: KeyAdmin) -> tuple[str, dict[str, str]]:
    """A fresh admin key: its public id, and the headers that send it."""
    key, secret = key_admin.create(KeyRequest(f"limits-{next(_addresses)}", admin=True))
    return key.id, {"Authorization": f"Bearer {secret}"}


@pytest.mark.integration
def test_a_key_has_one_bucket_in_redis_from_every_address(
    scaled: TestClient, redis_url: str, api_key: tuple[str, dict[str, str]]
) -> None:
    key_id, headers = api_key
    statuses = [
        scaled.get("/v1/collections", headers=headers | {"X-Forwarded-For": next(_addresses)}).status_code
        for _ in range(BURST + 1)
    ]
    assert statuses == [200] * BURST + [429]
    refused = scaled.get("/v1/collections", headers=headers)
    assert "this API key" in refused.json()["error"]["message"]
    with redis.Redis.from_url(redis_url) as raw:
        assert raw.exists(f"ragworks:ratelimit:key:{key_id}")


@pytest.mark.integration
def test_keys_used_from_one_address_have_buckets_of_their_own(
    scaled: TestClient, key_admin: KeyAdmin, api_key: tuple[str, dict[str, str]], caller: dict[str, str]
) -> None:
    _, first = api_key
    assert exhaust(scaled, first | caller)[-1].status_code == 429
    _, secret = key_admin.create(KeyRequest(f"second-{next(_addresses)}", admin=True))
    second = scaled.get("/v1/collections", headers={"Authorization": f"Bearer {secret}"} | caller)
    assert second.status_code == 200
    assert second.headers["RateLimit-Remaining"] == str(BURST - 1)


@pytest.mark.integration
def test_requests_without_a_key_are_not_counted_when_limits_are_unset(
    scaled: TestClient, caller: dict[str, str]
) -> None:
    refused = [scaled.get("/v1/collections", headers=caller) for _ in range(BURST + 1)]
    assert {r.status_code for r in refused} == {401}  # auth answers; no bucket is touched
    docs = [scaled.get("/openapi.json", headers=caller) for _ in range(BURST + 1)]
    assert {r.status_code for r in docs} == {200}  # open to anyone, and not limited
    assert all("RateLimit-Limit" not in r.headers for r in refused + docs)


@pytest.mark.integration
def test_a_stalled_redis_lets_requests_through_and_counts_them(
    scaled: TestClient, redis_url: str, api_key: tuple[str, dict[str, str]]
) -> None:
    _, headers = api_key
    before = counter(scaled, "ragworks_rate_limit_unchecked", headers)
    with redis.Redis.from_url(redis_url) as raw:
        raw.client_pause(500)  # Redis answers no one for 0.5 s
    responses = exhaust(scaled, headers) + exhaust(scaled, headers)
    assert {r.status_code for r in responses} == {200}
    assert all("RateLimit-Limit" not in r.headers for r in responses)
    assert counter(scaled, "ragworks_rate_limit_unchecked", headers) == before + len(responses)
    time.sleep(0.5 + PAUSE_AFTER_FAILURE_S)
    assert scaled.get("/v1/collections", headers=headers).headers["RateLimit-Remaining"] == "2"
