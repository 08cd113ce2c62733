"""KeyVerifier: keys checked against a real SQLite store, a TTL cache in front, throttled last-use writes.

The store is wrapped in a spy that counts the calls reaching it (the store itself is real); the clocks
are fakes the tests move, so TTLs and expiry are tested without sleeping.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest

from ragworks.auth.admin import KeyAdmin, KeyRequest
from ragworks.auth.errors import InvalidApiKey
from ragworks.auth.keys import ApiKey, format_key, parse_key
from ragworks.auth.verifier import KeyVerifier
from ragworks.engines.store.sql_keys import SqlKeyStore

pytestmark = pytest.mark.anyio

TTL_S = 5.0


@dataclass
class Clock:
    now: float = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class SpyStore:
    """The real store, counting the lookups and last-use writes that reach it."""

    store: SqlKeyStore
    lookups: int = 0
    touches: list[dict[str, float]] = field(default_factory=list)

    def lookup(self, key_id: str) -> tuple[ApiKey, str] | None:
        self.lookups += 1
        return self.store.lookup(key_id)

    def touch(self, used_at: Mapping[str, float]) -> None:
        self.touches.append(dict(used_at))
        self.store.touch(used_at)

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)


@pytest.fixture
def wall() -> Clock:
    return Clock()


@pytest.fixture
def monotonic() -> Clock:
    return Clock(now=50.0)


@pytest.fixture
def spy(key_store: SqlKeyStore) -> SpyStore:
    return SpyStore(key_store)


@pytest.fixture
def admin(key_store: SqlKeyStore, wall: Clock) -> KeyAdmin:
    return KeyAdmin(key_store, clock=wall)


@pytest.fixture
def verifier(spy: SpyStore, monotonic: Clock, wall: Clock) -> KeyVerifier:
    return KeyVerifier(spy, TTL_S, monotonic=monotonic, wall=wall)  # type: ignore[arg-type]


async def test_a_valid_key_gives_its_principal(verifier: KeyVerifier, admin: KeyAdmin) -> None:
    key, full_key = admin.create(KeyRequest("k", tenant="acme", scope="write"))

    principal = await verifier.verify(full_key)

    assert (principal.key_id, principal.tenant, principal.scopes) == (key.id, "acme", frozenset({"write"}))


async def test_a_cache_hit_reads_nothing_from_the_database(
    verifier: KeyVerifier, admin: KeyAdmin, spy: SpyStore, monotonic: Clock
) -> None:
    _, full_key = admin.create(KeyRequest("k", tenant="acme"))
    await verifier.verify(full_key)

    monotonic.now += TTL_S - 0.1
    await verifier.verify(full_key)
    assert spy.lookups == 1

    monotonic.now += 0.2  # past the TTL: read again
    await verifier.verify(full_key)
    assert spy.lookups == 2


async def test_a_wrong_secret_is_never_served_from_the_cache(
    verifier: KeyVerifier, admin: KeyAdmin, spy: SpyStore
) -> None:
    key, full_key = admin.create(KeyRequest("k", tenant="acme"))
    await verifier.verify(full_key)

    with pytest.raises(InvalidApiKey):
        await verifier.verify(format_key(key.id, "not-the-secret"))
    assert spy.lookups == 2


async def test_a_revoked_key_fails_once_its_cache_entry_expires(
    verifier: KeyVerifier, admin: KeyAdmin, monotonic: Clock
) -> None:
    key, full_key = admin.create(KeyRequest("k", tenant="acme"))
    await verifier.verify(full_key)
    admin.revoke(key.id)

    await verifier.verify(full_key)  # still within the TTL: the documented revocation delay
    monotonic.now += TTL_S
    with pytest.raises(InvalidApiKey):
        await verifier.verify(full_key)


async def test_an_expired_key_fails_even_while_cached(
    verifier: KeyVerifier, admin: KeyAdmin, wall: Clock
) -> None:
    _, full_key = admin.create(KeyRequest("k", tenant="acme", expires_in_days=1))
    await verifier.verify(full_key)

    wall.now += 86_400
    with pytest.raises(InvalidApiKey):
        await verifier.verify(full_key)


@pytest.mark.parametrize(
    "presented", ["rw_ffffffffffff_unknown-key", "not-a-key", "rw_0123456789ab_" + "x" * 400]
)
async def test_unknown_and_malformed_keys_fail(verifier: KeyVerifier, presented: str) -> None:
    with pytest.raises(InvalidApiKey):
        await verifier.verify(presented)


async def test_a_malformed_key_never_reaches_the_database(verifier: KeyVerifier, spy: SpyStore) -> None:
    with pytest.raises(InvalidApiKey, match="malformed"):
        await verifier.verify("Bearer-of-nothing")

    assert spy.lookups == 0


async def test_a_zero_ttl_reads_the_database_every_time(
    spy: SpyStore, admin: KeyAdmin, monotonic: Clock, wall: Clock
) -> None:
    verifier = KeyVerifier(spy, 0.0, monotonic=monotonic, wall=wall)  # type: ignore[arg-type]
    _, full_key = admin.create(KeyRequest("k", tenant="acme"))

    for _ in range(3):
        await verifier.verify(full_key)

    assert spy.lookups == 3


async def test_the_cache_stays_within_its_size(
    spy: SpyStore, admin: KeyAdmin, monotonic: Clock, wall: Clock
) -> None:
    verifier = KeyVerifier(spy, TTL_S, max_entries=2, monotonic=monotonic, wall=wall)  # type: ignore[arg-type]
    first, *others = [admin.create(KeyRequest(f"k{n}", tenant="acme"))[1] for n in range(3)]
    for full_key in (first, *others):
        await verifier.verify(full_key)
    assert spy.lookups == 3

    await verifier.verify(others[-1])  # the newest stayed
    assert spy.lookups == 3
    await verifier.verify(first)  # the oldest made room
    assert spy.lookups == 4


async def test_last_use_is_written_at_most_once_a_minute(
    verifier: KeyVerifier,
    admin: KeyAdmin,
    spy: SpyStore,
    key_store: SqlKeyStore,
    monotonic: Clock,
    wall: Clock,
) -> None:
    key, full_key = admin.create(KeyRequest("k", tenant="acme"))

    for _ in range(3):
        await verifier.verify(full_key)
        monotonic.now += 1
    await verifier.flush()
    assert spy.touches == [{key.id: wall.now}]

    monotonic.now += 60
    wall.now += 63
    await verifier.verify(full_key)
    await verifier.flush()

    assert len(spy.touches) == 2
    stored = key_store.get(key.id)
    assert stored is not None and stored.last_used_at == wall.now


async def test_the_presented_secret_is_kept_only_as_a_hash(verifier: KeyVerifier, admin: KeyAdmin) -> None:
    _, full_key = admin.create(KeyRequest("k", tenant="acme"))
    await verifier.verify(full_key)

    parsed = parse_key(full_key)
    assert parsed is not None
    assert parsed[1] not in repr(vars(verifier))
