"""What the store and chunk contract mixins share: the fixtures an adapter provides."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ragworks.domain import DocumentDraft
from ragworks.engines.queue.base import JobAdmin, JobQueue
from ragworks.engines.store.base import ChunkStore, MetadataStore

SetUpdatedAt = Callable[[str, float], None]
Item = tuple[DocumentDraft, dict[str, Any]]  # what accept_documents takes


class StoreFixtures:
    """The fixtures the store and chunk suites use; adapters' test classes override the first four."""

    @pytest.fixture
    def store(self) -> MetadataStore:
        """The metadata store under test."""
        raise NotImplementedError("the adapter's test class provides a started MetadataStore")

    @pytest.fixture
    def chunk_store(self) -> ChunkStore:
        """The chunk store on the same database as ``store``."""
        raise NotImplementedError("the adapter's test class provides a ChunkStore")

    @pytest.fixture
    def queue(self) -> JobQueue:
        """The job queue on the same database as ``store``."""
        raise NotImplementedError("the adapter's test class provides a JobQueue")

    @pytest.fixture
    def admin(self) -> JobAdmin:
        """The job admin on the same database as ``store``."""
        raise NotImplementedError("the adapter's test class provides a JobAdmin")

    @pytest.fixture
    def collection(self, store: MetadataStore) -> str:
        """The name of an empty collection."""
        store.create_collection("docs", "en", "test documents")
        return "docs"
