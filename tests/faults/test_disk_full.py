"""The embedded profile's data disk filling up (`ragworks serve` on a 64 MB tmpfs), then freed.

The data dir is a small tmpfs, filled by a ballast file until about 768 KB are left; clients then
upload files (blob store) and JSON documents (SQLite) until the disk is full. Uploads are refused with
507 ``disk_full`` in the error shape (never 500), the server stays up and keeps answering searches,
and what was accepted before is intact. Once the ballast is deleted, uploads are accepted again and
every accepted document ends ``ready``, once: a full disk is an outage, so the attempts it fails
do not count toward ``jobs.max_attempts`` (left at its default, 4). The numbers are printed (`pytest -s`).
"""

from __future__ import annotations

import itertools
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from helpers.ledger import Store, sqlite_url
from helpers.load import document
from helpers.probes import Probe, create_collection, indexed_chunks, probe, search_finds
from helpers.server import Server
from helpers.small_disk import fill, free_bytes, small_disk

pytestmark = [pytest.mark.integration, pytest.mark.slow]

COLLECTION = "fault-disk"
BEFORE = 20  # documents ingested before the disk fills
DURING = 16  # documents accepted just before it fills: their ingestion meets the full disk
FULL_FOR_S = 6.0  # how long uploads keep meeting the full disk
LEAVE_BYTES = 768 * 1024
PADDING = "\n" * 100_000  # bytes that fill the disk but make no chunk (whitespace)
ENV = {
    "RAGWORKS_JOBS__INGEST_BATCH": "8",
    "RAGWORKS_JOBS__BACKOFF_BASE_S": "0.5",
    "RAGWORKS_JOBS__BACKOFF_MAX_S": "2",
    "RAGWORKS_JOBS__LEASE_S": "6",
    "RAGWORKS_JOBS__HEARTBEAT_S": "1",
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """`ragworks serve` whose data dir is a 64 MB tmpfs (its log stays outside it)."""
    with small_disk(tmp_path / "disk", "64m") as disk:
        running = Server(disk, env=ENV)
        running.start()
        try:
            yield running
        finally:
            running.stop()


def _upload_file(client: httpx.Client, n: int) -> Probe:
    files = {"files": (f"file-{n}.txt", f"Marker mark{n}x is in this file.{PADDING}".encode(), "text/plain")}
    return probe(client, "POST", f"/v1/collections/{COLLECTION}/documents", files=files)


def _upload_json(client: httpx.Client, n: int) -> Probe:
    doc = document(f"json-{n}", n)
    doc["text"] += PADDING
    return probe(client, "POST", f"/v1/collections/{COLLECTION}/documents", {"documents": [doc]})


def _accepted_ids(answers: list[tuple[str, Probe]]) -> set[str]:
    return {name for name, answer in answers if answer.status == 202}


def test_a_full_data_disk_refuses_uploads_with_507_and_recovers(server: Server) -> None:
    create_collection(server.url, COLLECTION)
    store = Store(sqlite_url(server.data_dir))
    before = [document(f"before-{n}", n) for n in range(BEFORE)]
    with httpx.Client(base_url=server.url, timeout=30) as client:
        assert (
            client.post(f"/v1/collections/{COLLECTION}/documents", json={"documents": before}).status_code
            == 202
        )
        store.wait_until_ready(COLLECTION, [d["id"] for d in before], timeout_s=120)

        during = [document(f"during-{n}", 100 + n) for n in range(DURING)]
        assert (
            client.post(f"/v1/collections/{COLLECTION}/documents", json={"documents": during}).status_code
            == 202
        )
        ballast = fill(server.data_dir, LEAVE_BYTES)  # while those are being ingested
        answers: list[tuple[str, Probe]] = []
        full_at = None
        for n in itertools.count(1000):
            kind = "file" if n % 2 else "json"
            name = f"file-{n}.txt" if kind == "file" else f"json-{n}"
            answer = _upload_file(client, n) if kind == "file" else _upload_json(client, n)
            answers.append((name, answer))
            if answer.status == 507 and full_at is None:
                full_at = time.monotonic()
            if (full_at is not None and time.monotonic() - full_at > FULL_FOR_S) or n > 1300:
                break
            time.sleep(0.05)
        assert full_at is not None, f"the disk never filled: {Counter(a.label for _, a in answers)}"
        health = probe(client, "GET", "/health")
        search = search_finds(server.url, COLLECTION, "mark5x", "before-5")
        full_free = free_bytes(server.data_dir)

        ballast.unlink()
        freed_at = time.monotonic()
        after = [_upload_json(client, n) for n in range(2000, 2003)]
        back_s = time.monotonic() - freed_at
        accepted = {d["id"] for d in before + during} | _accepted_ids(answers)
        accepted |= {f"json-{n}" for n, a in zip(range(2000, 2003), after, strict=True) if a.status == 202}
        ledger = store.wait_until_ready(COLLECTION, accepted, timeout_s=180)
        settled_s = time.monotonic() - freed_at
        indexed = indexed_chunks(server.url, COLLECTION)
    store.close()
    with closing(sqlite3.connect(f"file:{server.data_dir / 'ragworks.db'}?mode=ro", uri=True)) as db:
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]

    by_kind = Counter(f"{name.split('-')[0]} {a.label}" for name, a in answers)
    refused = [a for _, a in answers if a.status == 507]
    print(
        f"\ndisk full: 64 MB tmpfs, {LEAVE_BYTES // 1024} KB left by the ballast while {DURING} documents"
        f" were being ingested; uploads for {FULL_FOR_S:.0f} s of a full disk"
        f" {dict(by_kind)} (a 507 in at most {max(a.seconds for a in refused):.2f} s), {full_free} bytes"
        f" free at the end; meanwhile /health {health.label}, search of an earlier document"
        f" {'found it' if search else 'failed'}; after freeing: uploads {[a.label for a in after]}"
        f" ({back_s:.1f} s for three), all {len(accepted)} accepted documents ready {settled_s:.1f} s"
        f" after; {ledger.line()}; index holds {indexed}; SQLite integrity_check: {integrity}"
    )
    assert {a.label for _, a in answers} <= {"202", "507 disk_full"}
    assert health.status == 200 and search
    assert [a.status for a in after] == [202, 202, 202]
    assert server.process is not None and server.process.poll() is None, "the server died"
    assert integrity == "ok"
    assert ledger.lost == 0 and ledger.doubled == 0
    assert ledger.documents == {"ready": len(accepted)}
    assert ledger.served_chunks == ledger.counted_chunks == indexed
