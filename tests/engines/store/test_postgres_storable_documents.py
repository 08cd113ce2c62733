"""A JSON document with NUL characters and lone surrogates in its text, title and metadata is accepted,
ingested and found, on SQLite and on PostgreSQL (which refuses both in text)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from helpers.pipeline import open_pipeline
from ragworks.engines.blob.local import LocalBlobStore
from ragworks.engines.queue.sql import SqlJobQueue
from ragworks.engines.store.postgres import PostgresDatabase
from ragworks.engines.store.sql import SqlDatabase, SqlMetadataStore
from ragworks.engines.store.text import REPLACEMENT
from ragworks.ingest.analysis import Analyzer
from ragworks.ingest.pipeline import IngestItem
from ragworks.services.documents import DocumentService, TextDocument

DIRTY = TextDocument(
    id="tides",
    text="Tidal\x00 power turns \ud800 the rise and fall of the sea into electricity.",
    title="Ti\x00des \udc80",
    metadata={"sou\x00rce": "wiki\ud800", "tags": ["sea\x00"]},
)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlDatabase]:
    """A started database of each engine."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    db = (
        SqlDatabase(url)
        if request.param == "sqlite"
        else PostgresDatabase(request.getfixturevalue("postgres_url"))
    )
    db.start()
    yield db
    db.close()


def test_a_document_with_nul_and_lone_surrogates_is_stored_and_searchable(
    database: SqlDatabase, tmp_path: Path
) -> None:
    store = SqlMetadataStore(database)
    store.create_collection("docs", "en", "")
    service = DocumentService(store, LocalBlobStore(tmp_path / "blobs"), 4, lambda: None)

    [accepted] = anyio.run(service.accept_texts, "docs", [DIRTY])

    document = store.get_document("docs", "tides")
    assert document.title == f"Tides {REPLACEMENT}"
    assert document.metadata == {"source": f"wiki{REPLACEMENT}", "tags": ["sea"]}
    assert accepted.job_id is not None
    payload = SqlJobQueue(database).get(accepted.job_id).payload
    item = IngestItem(accepted.job_id, "docs", "tides", 1, title=payload["title"], text=payload["text"])
    with open_pipeline(database, tmp_path) as pipeline:
        outcome = pipeline.run([item], lambda _ids, _value, _stage: None)
        assert isinstance(outcome[accepted.job_id], dict)

        hits = pipeline.index.keyword_search("docs", Analyzer().tokens("electricity"), 5)
        found = pipeline.chunk_store.lookup([hit.key for hit in hits])
    [(chunk, stored)] = found.values()
    assert chunk.text.startswith(f"Tidal power turns {REPLACEMENT} the rise")
    assert stored.status == "ready"
