"""SqlMetadataStore documents: accepting versions with their ingest job, reading, listing, status,
delete (the contract suites)."""

from __future__ import annotations

from helpers.store import SqliteStores
from ragworks.testing.store_contract import (
    AcceptBatchTest,
    AcceptTest,
    DeleteDocumentTest,
    ListDocumentsTest,
    PageTiesTest,
    ReadDocumentsTest,
    StatusTest,
)


class TestSqlDocuments(
    SqliteStores,
    AcceptTest,
    AcceptBatchTest,
    ReadDocumentsTest,
    ListDocumentsTest,
    PageTiesTest,
    StatusTest,
    DeleteDocumentTest,
):
    """Documents on a real SQLite file."""
