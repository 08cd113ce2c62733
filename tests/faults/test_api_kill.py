"""kill -9 of the scaled profile's API process while clients upload.

Three clients keep uploading small batches of documents with ids they chose. The API process of
`ragworks up` is killed with SIGKILL; the supervisor starts it again. A request in flight at the kill
gets no answer, and the client sends it again unchanged: if the dead process had committed it, it
comes back ``unchanged``, never as a second version. Every document a client was told was accepted
ends ``ready``, once, with its chunks stored and indexed once. The numbers are printed (`pytest -s`).
"""

from __future__ import annotations

import time

import pytest

from helpers.ledger import Store
from helpers.load import UploadLoad, marker
from helpers.probes import create_collection, indexed_chunks, search_finds, wait_for
from helpers.stack import RunningStack
from helpers.stack_processes import kill_stack_process, stack_pid, wait_restarted

pytestmark = [pytest.mark.integration, pytest.mark.slow]

COLLECTION = "fault-api"
ACCEPTED_BEFORE_KILL = 30


def test_a_killed_api_loses_no_accepted_upload_and_stores_none_twice(
    scaled_stack: RunningStack, stack_store: Store
) -> None:
    create_collection(scaled_stack.api, COLLECTION)
    workers = {name: stack_pid(scaled_stack, name) for name in ("worker-1", "worker-2")}
    load = UploadLoad(scaled_stack.api, COLLECTION, clients=3, batch=3, pause_s=0.1)
    load.start()
    wait_for(lambda: len(load.accepted) >= ACCEPTED_BEFORE_KILL, 120, "the first accepted uploads")

    pid, killed_at = kill_stack_process(scaled_stack, "api")
    accepted_at_kill = len(load.accepted)
    restart = wait_restarted(scaled_stack, "api", pid)
    wait_for(lambda: load.first_accepted_after(killed_at) is not None, 120, "an upload accepted again")
    back_at = load.first_accepted_after(killed_at)
    assert back_at is not None
    time.sleep(2)  # some uploads to the new process
    load.stop()
    ledger = stack_store.wait_until_ready(COLLECTION, load.accepted, timeout_s=240)
    indexed = indexed_chunks(scaled_stack.api, COLLECTION)

    seen = load.count(since=killed_at)
    outage = {label: n for label, n in seen.items() if label != "202"}
    unchanged = sum(1 for outcome in load.accepted.values() if outcome == "unchanged")
    print(
        f"\nAPI kill: {accepted_at_kill} documents accepted at the kill, {len(load.accepted)} in all;"
        f" the supervisor started it again after {restart.spawned_at - killed_at:.1f} s, ready after"
        f" {restart.ready_at - killed_at:.1f} s (models loaded), first 202 again after"
        f" {back_at - killed_at:.1f} s; answers from the kill on {dict(seen)}; {load.resent} requests"
        f" sent again, {unchanged} documents answered 'unchanged' (committed before the kill, answer lost);"
        f" {ledger.line()}; index holds {indexed}"
    )
    assert set(outage) <= {"no answer"}, f"clients saw more than a closed port: {outage}"
    assert ledger.lost == 0 and ledger.doubled == 0
    assert ledger.documents == {"ready": len(load.accepted)}
    assert set(ledger.jobs) == {"succeeded"}
    assert ledger.served_chunks == ledger.counted_chunks == indexed
    assert {name: stack_pid(scaled_stack, name) for name in workers} == workers, "a worker restarted"
    last = max(load.accepted, key=lambda d: (d.split("-")[0], int(d.split("-")[1])))
    assert search_finds(scaled_stack.api, COLLECTION, marker(last), last)
