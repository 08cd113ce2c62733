"""What the store says became of a collection's documents, read straight from its database.

The same SQL runs on the embedded profile's SQLite file and on the scaled profile's PostgreSQL
(through SQLAlchemy), so every fault test checks the same guarantees the same way: every accepted
document present and ready, one version and one ingest job each, no chunk stored twice, and the
chunk rows the documents count.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, create_engine, text

_STATUSES = "SELECT status, count(*) FROM documents WHERE collection = :c GROUP BY status"
_JOBS = "SELECT status, count(*) FROM jobs WHERE kind = 'document.ingest' AND collection = :c GROUP BY status"
_IDS = "SELECT id FROM documents WHERE collection = :c"
_MANY_VERSIONS = "SELECT count(*) FROM documents WHERE collection = :c AND version > 1"
_MANY_JOBS = (
    "SELECT count(*) FROM (SELECT document_id FROM jobs WHERE kind = 'document.ingest' AND collection = :c"
    " GROUP BY document_id HAVING count(*) > 1) AS many"
)
_DOUBLED = (
    "SELECT count(*) FROM (SELECT document_id FROM chunks WHERE collection = :c"
    " GROUP BY document_id, version, ordinal HAVING count(*) > 1) AS twice"
)
_SERVED = (
    "SELECT count(*) FROM chunks c JOIN documents d ON d.collection = c.collection AND d.id = c.document_id"
    " AND d.active_version = c.version WHERE c.collection = :c"
)
_COUNTED = "SELECT coalesce(sum(chunk_count), 0) FROM documents WHERE collection = :c"
_DEAD_REASONS = (
    "SELECT error_type, error_message, count(*) FROM jobs WHERE kind = 'document.ingest' AND collection = :c"
    " AND status = 'dead' GROUP BY error_type, error_message ORDER BY count(*) DESC LIMIT 3"
)
_RETRIED = "SELECT count(*) FROM jobs WHERE kind = 'document.ingest' AND collection = :c AND attempts > 1"


@dataclass(frozen=True)
class Ledger:
    """One collection's documents, jobs and chunks as stored."""

    documents: dict[str, int]  # by status
    jobs: dict[str, int]  # ingest jobs by status
    missing: int  # accepted ids the store does not have
    many_versions: int  # documents stored more than once (a version above 1)
    many_jobs: int  # documents with more than one ingest job
    doubled_chunks: int  # (document, version, ordinal) stored more than once
    served_chunks: int  # chunk rows of the active versions
    counted_chunks: int  # what the documents say they have
    retried_jobs: int  # ingest jobs that took more than one attempt

    @property
    def lost(self) -> int:
        """Accepted documents that are missing or will never be ready."""
        return self.missing + sum(n for status, n in self.documents.items() if status == "failed")

    @property
    def doubled(self) -> int:
        """Documents or chunks stored twice."""
        return self.many_versions + self.many_jobs + self.doubled_chunks

    def ready(self) -> int:
        return self.documents.get("ready", 0)

    def line(self) -> str:
        """The figures as the tests print them."""
        return (
            f"documents by status {self.documents}; ingest jobs by status {self.jobs} ({self.retried_jobs}"
            f" retried); lost {self.lost}; doubled {self.doubled}; chunks served {self.served_chunks},"
            f" counted {self.counted_chunks}"
        )


class Store:
    """Read-only questions to a store's database (``sqlite:///...`` or ``postgresql+psycopg://...``)."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url, pool_pre_ping=True)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def ledger(self, collection: str, accepted: Collection[str]) -> Ledger:
        """The figures of ``collection``, ``accepted`` being the ids clients were told were accepted."""
        with self._connect() as conn:
            c = {"c": collection}

            def one(sql: str) -> int:
                return int(conn.execute(text(sql), c).scalar_one())

            ids = {str(row[0]) for row in conn.execute(text(_IDS), c)}
            return Ledger(
                documents={str(s): int(n) for s, n in conn.execute(text(_STATUSES), c)},
                jobs={str(s): int(n) for s, n in conn.execute(text(_JOBS), c)},
                missing=len(set(accepted) - ids),
                many_versions=one(_MANY_VERSIONS),
                many_jobs=one(_MANY_JOBS),
                doubled_chunks=one(_DOUBLED),
                served_chunks=one(_SERVED),
                counted_chunks=one(_COUNTED),
                retried_jobs=one(_RETRIED),
            )

    def dead_reasons(self, collection: str) -> list[tuple[str, str, int]]:
        """The commonest (error type, message, count) of the collection's dead ingest jobs."""
        with self._connect() as conn:
            rows = conn.execute(text(_DEAD_REASONS), {"c": collection})
            return [(str(kind), str(message), int(n)) for kind, message, n in rows]

    def wait_until_ready(self, collection: str, accepted: Collection[str], timeout_s: float) -> Ledger:
        """Poll until every accepted document is ready and no ingest job is left to run.

        Raises:
            AssertionError: with the last figures, when that does not happen within ``timeout_s``.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            ledger = self.ledger(collection, accepted)
            settled = set(ledger.jobs) <= {"succeeded", "dead"}
            if ledger.ready() >= len(accepted) and settled:
                return ledger
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"not all ready after {timeout_s:.0f} s: {ledger.line()}; dead jobs' reasons"
                    f" {self.dead_reasons(collection)}"
                )
            time.sleep(0.5)


def sqlite_url(data_dir: object) -> str:
    """The SQLAlchemy URL of the embedded profile's database in ``data_dir``, opened read-only."""
    return f"sqlite:///file:{data_dir}/ragworks.db?mode=ro&uri=true"


def postgres_url(libpq_url: str) -> str:
    """The SQLAlchemy URL of a ``postgresql://`` libpq URL (what ``RunningStack.database`` is)."""
    return libpq_url.replace("postgresql://", "postgresql+psycopg://", 1)
