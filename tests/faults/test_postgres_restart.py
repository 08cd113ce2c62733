"""PostgreSQL killed with SIGKILL under load in the scaled profile, and started again.

Clients keep uploading while the workers ingest. The stack's PostgreSQL (the postmaster and its
backends) is killed; the supervisor starts it again on the same data dir and port after its restart
delay, and PostgreSQL recovers from its write-ahead log. While it is down, reads, searches and
uploads answer 503 ``not_ready`` in the error shape within a few seconds (never 500, never a hang);
the API and the workers are not restarted: they reconnect on their own. Every accepted document ends
``ready``, once. The numbers are printed (`pytest -s`).
"""

from __future__ import annotations

import time

import httpx
import pytest

from helpers.ledger import Store
from helpers.load import UploadLoad, document, marker
from helpers.probes import Probe, create_collection, indexed_chunks, probe, search_finds, wait_for
from helpers.stack import RunningStack
from helpers.stack_processes import kill_stack_process, stack_pid, wait_restarted

pytestmark = [pytest.mark.integration, pytest.mark.slow]

COLLECTION = "fault-pg"
FAST_S = 5.0  # longest a request may take to say the database is down
ROLES = ("api", "worker-1", "worker-2")


def _while_down(client: httpx.Client) -> dict[str, Probe]:
    """One request of each kind: read, list, search, upload."""
    upload = {"documents": [document("while-down", 999_999)]}
    search = {"query": "river stone", "collections": [COLLECTION], "mode": "keyword"}
    return {
        "collection": probe(client, "GET", f"/v1/collections/{COLLECTION}"),
        "jobs": probe(client, "GET", "/v1/jobs"),
        "search": probe(client, "POST", "/v1/retrieve", search),
        "upload": probe(client, "POST", f"/v1/collections/{COLLECTION}/documents", upload),
    }


def test_postgres_killed_under_load_answers_503_and_loses_nothing(
    scaled_stack: RunningStack, stack_store: Store
) -> None:
    create_collection(scaled_stack.api, COLLECTION)
    roles = {name: stack_pid(scaled_stack, name) for name in ROLES}
    load = UploadLoad(scaled_stack.api, COLLECTION, clients=2, batch=3, pause_s=0.2)
    load.start()
    wait_for(lambda: stack_store.ledger(COLLECTION, ()).ready() >= 20, 180, "the first ready documents")

    with httpx.Client(base_url=scaled_stack.api, timeout=30) as client:
        pid, killed_at = kill_stack_process(scaled_stack, "postgres")
        accepted_at_kill = len(load.accepted)
        probes = _while_down(client)
        still_down = stack_pid(scaled_stack, "postgres") in (None, pid)  # not reaped yet, or gone
        restart = wait_restarted(scaled_stack, "postgres", pid)
        wait_for(lambda: load.first_accepted_after(restart.ready_at) is not None, 60, "an upload accepted")
        back_at = load.first_accepted_after(restart.ready_at)
        assert back_at is not None
        time.sleep(3)  # uploads and ingestion on the restarted server
        load.stop()
    seen = load.count(since=killed_at)
    print(
        f"\nPostgreSQL kill: {accepted_at_kill} documents accepted at the kill, {len(load.accepted)} in all;"
        f" down {restart.ready_at - killed_at:.1f} s (restarted after {restart.spawned_at - killed_at:.1f} s);"
        f" while down: {', '.join(f'{k} {p.line()}' for k, p in probes.items())}; first 202 again"
        f" {back_at - restart.ready_at:.1f} s after it was ready; upload answers from the kill on"
        f" {dict(seen)}, slowest {load.slowest(killed_at):.2f} s"
    )
    ledger = stack_store.wait_until_ready(COLLECTION, load.accepted, timeout_s=180)
    settled_s = time.monotonic() - restart.ready_at
    indexed = indexed_chunks(scaled_stack.api, COLLECTION)
    print(f"all ready {settled_s:.1f} s after the restart; {ledger.line()}; index holds {indexed}")
    assert still_down, "PostgreSQL was back before the probes ended: they did not test an outage"
    for name, answer in probes.items():
        assert (answer.status, answer.code) == (503, "not_ready"), f"{name}: {answer.line()}"
        assert answer.seconds < FAST_S, f"{name}: {answer.line()}"
    assert set(seen) <= {"202", "503 not_ready", "503 busy"}, seen
    assert load.slowest(killed_at) < FAST_S
    assert {name: stack_pid(scaled_stack, name) for name in ROLES} == roles, "the API or a worker restarted"
    assert ledger.lost == 0 and ledger.doubled == 0
    assert ledger.documents == {"ready": len(load.accepted)}
    assert set(ledger.jobs) == {"succeeded"}
    assert ledger.served_chunks == ledger.counted_chunks == indexed
    last = max(load.accepted, key=lambda d: (d.split("-")[0], int(d.split("-")[1])))
    assert search_finds(scaled_stack.api, COLLECTION, marker(last), last)
