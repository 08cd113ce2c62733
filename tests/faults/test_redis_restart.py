"""Redis killed with SIGKILL under load in the scaled profile (query vectors and rate limits in it).

Redis is never the only copy of anything: jobs and wake-ups live in PostgreSQL, query vectors are a
shortcut, rate-limit buckets may be lost. While the stack's Redis is down and until the supervisor
starts it again (empty: it keeps nothing on disk), uploads keep answering 202 and hybrid searches
200, the rate limiter lets requests through unchecked (counted), and once Redis is back the API
writes query vectors and buckets to it again without being restarted. Every accepted document ends
``ready``, once. The numbers are printed (`pytest -s`).
"""

from __future__ import annotations

import time
from collections import Counter

import httpx
import pytest
import redis

from helpers.ledger import Store
from helpers.load import UploadLoad
from helpers.probes import create_collection, metric, probe, wait_for
from helpers.stack import RunningStack
from helpers.stack_processes import kill_stack_process, stack_pid, stack_port, wait_restarted

pytestmark = [pytest.mark.integration, pytest.mark.slow]

COLLECTION = "fault-redis"
QUERY_VECTORS = "ragworks:query-vector:*"
BUCKETS = "ragworks:ratelimit:*"


def _search(client: httpx.Client, n: int) -> tuple[str, float]:
    """A hybrid search with a query never asked before (so the query-vector cache is consulted)."""
    body = {"query": f"river stone forest {n}", "collections": [COLLECTION], "mode": "hybrid"}
    answer = probe(client, "POST", "/v1/retrieve", body)
    return answer.label, answer.seconds


def test_redis_killed_under_load_loses_nothing_and_is_used_again(
    scaled_stack: RunningStack, stack_store: Store
) -> None:
    create_collection(scaled_stack.api, COLLECTION)
    store = redis.Redis(port=stack_port(scaled_stack, "redis"), socket_timeout=2)
    api = stack_pid(scaled_stack, "api")
    load = UploadLoad(scaled_stack.api, COLLECTION, clients=2, batch=3, pause_s=0.2)
    load.start()
    searches: Counter[str] = Counter()
    slowest = 0.0
    with httpx.Client(base_url=scaled_stack.api, timeout=30) as client:
        wait_for(lambda: stack_store.ledger(COLLECTION, ()).ready() >= 10, 180, "the first ready documents")
        _search(client, 0)
        assert store.keys(QUERY_VECTORS) and store.keys(BUCKETS), "the API does not use Redis"
        unchecked_before = metric(scaled_stack.api, "ragworks_rate_limit_unchecked_total")

        pid, killed_at = kill_stack_process(scaled_stack, "redis")
        n = 1
        while stack_pid(scaled_stack, "redis") in (None, pid):  # until a new Redis is up
            outcome, seconds = _search(client, n)
            searches[outcome] += 1
            slowest, n = max(slowest, seconds), n + 1
            time.sleep(0.1)
        restart = wait_restarted(scaled_stack, "redis", pid)
        unchecked = metric(scaled_stack.api, "ragworks_rate_limit_unchecked_total") - unchecked_before
        time.sleep(2)  # past the rate limiter's pause after a failure
        _search(client, n + 1)
        vectors_again, buckets_again = len(store.keys(QUERY_VECTORS)), len(store.keys(BUCKETS))
        load.stop()
    store.close()
    ledger = stack_store.wait_until_ready(COLLECTION, load.accepted, timeout_s=180)

    seen = load.count(since=killed_at)
    print(
        f"\nRedis kill: down {restart.ready_at - killed_at:.1f} s; meanwhile {sum(searches.values())} hybrid"
        f" searches {dict(searches)} (slowest {slowest:.2f} s), upload answers {dict(seen)} (slowest"
        f" {load.slowest(killed_at):.2f} s), {unchecked:.0f} requests let through without a rate-limit check;"
        f" after the restart Redis holds {vectors_again} query vectors and {buckets_again} buckets again;"
        f" {len(load.accepted)} documents accepted; {ledger.line()}"
    )
    assert searches and set(searches) == {"200"}, searches
    assert set(seen) == {"202"}, seen
    assert unchecked > 0
    assert vectors_again >= 1 and buckets_again >= 1, "the API did not reconnect to Redis"
    assert stack_pid(scaled_stack, "api") == api, "the API restarted"
    assert ledger.lost == 0 and ledger.doubled == 0
    assert ledger.documents == {"ready": len(load.accepted)}
    assert set(ledger.jobs) == {"succeeded"}
