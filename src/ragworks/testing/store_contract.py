"""Contract tests every MetadataStore adapter must pass, one mixin per capability.

An adapter's test class lists the mixins it passes (or ``MetadataStoreContract`` for all of them)
after a base that provides these fixtures, all over one fresh, started database:

- ``store``: the ``MetadataStore``;
- ``chunk_store``: the ``ChunkStore`` (collection counts and deletes are checked through it);
- ``queue`` and ``admin``: the ``JobQueue`` and ``JobAdmin`` that see the jobs the store enqueues;
- ``set_updated_at`` (``PageTiesTest`` only): a callable ``(collection, t)`` that sets every document
  of the collection to the same ``updated_at``, a state the port cannot make.

``collection`` (the name of an empty collection) is provided here. Fixtures are looked up along the
class's MRO, so the base that provides them comes first::

    class TestSqlDocuments(SqliteStores, AcceptTest, ListDocumentsTest): ...
"""

from __future__ import annotations

from ragworks.testing.store_accept_contract import AcceptBatchTest, AcceptTest
from ragworks.testing.store_collections_contract import CollectionsTest, DeleteCollectionTest
from ragworks.testing.store_documents_contract import (
    DeleteDocumentTest,
    ListDocumentsTest,
    MetadataFilterTest,
    PageTiesTest,
    ReadDocumentsTest,
    StatusTest,
)
from ragworks.testing.store_fixtures import SetUpdatedAt, StoreFixtures
from ragworks.testing.store_fusion_contract import FusionCalibrationTest

__all__ = [
    "AcceptBatchTest",
    "AcceptTest",
    "CollectionsTest",
    "DeleteCollectionTest",
    "DeleteDocumentTest",
    "FusionCalibrationTest",
    "ListDocumentsTest",
    "MetadataFilterTest",
    "MetadataStoreContract",
    "PageTiesTest",
    "ReadDocumentsTest",
    "SetUpdatedAt",
    "StatusTest",
    "StoreFixtures",
]


class MetadataStoreContract(
    CollectionsTest,
    DeleteCollectionTest,
    FusionCalibrationTest,
    AcceptTest,
    AcceptBatchTest,
    ReadDocumentsTest,
    ListDocumentsTest,
    PageTiesTest,
    MetadataFilterTest,
    StatusTest,
    DeleteDocumentTest,
):
    """Every MetadataStore capability."""
