"""ChunkStore contract mixins for reads: lookup, collections, served keys, index entries, spans."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from ragworks.domain import FieldFilter
from ragworks.engines.store.base import ChunkStore, MetadataStore
from ragworks.errors import BadRequest
from ragworks.testing.builders import (
    DIMENSION,
    FILTER_CASES,
    FILTERED_DOCUMENTS,
    INVALID_FILTERS,
    accept,
    case_id,
    draft,
    new_chunks,
    ready_document,
)
from ragworks.testing.store_fixtures import StoreFixtures

# Metadata of every JSON type, to check it comes back from ``lookup`` as it went in.
RICH_METADATA: dict[str, Any] = {
    "team": "billing",
    "year": 2024,
    "score": 0.5,
    "flag": True,
    "none": None,
    "tags": ["a", "ü", "지사"],
    "nested": {"deep": [1, {"x": "y"}]},
}


class LookupTest(StoreFixtures):
    """lookup: the served chunks among the keys (active version, document not deleted)."""

    @pytest.fixture
    def mixed_keys(self, store: MetadataStore, chunk_store: ChunkStore, collection: str) -> list[int]:
        """Keys of 7 served chunks (the first 3 of a document with ``RICH_METADATA``), then keys
        searches must not see: a pending version's, a deleted document's and an unknown one."""
        served = ready_document(store, chunk_store, collection, "rich", metadata=RICH_METADATA, chunk_count=3)
        served += ready_document(store, chunk_store, collection, "plain", chunk_count=2)
        store.accept_document(draft(collection, "titled", title="Ünïcode title"), {}, 4)
        _, titled = chunk_store.replace_chunks(collection, "titled", 1, new_chunks(2, prefix="t"))
        chunk_store.activate_version(collection, "titled", 1, 2)
        store.accept_document(draft(collection, "pending"), {}, 4)  # never activated
        _, pending = chunk_store.replace_chunks(collection, "pending", 1, new_chunks(2))
        gone = ready_document(store, chunk_store, collection, "gone")
        store.request_delete(collection, "gone", 4)
        return served + titled + pending + gone + [999_999]

    def test_lookup_returns_chunk_with_its_document(
        self, store: MetadataStore, chunk_store: ChunkStore, collection: str
    ) -> None:
        [key] = ready_document(store, chunk_store, collection, "a", metadata={"k": "v"}, chunk_count=1)

        chunk, document = chunk_store.lookup([key])[key]

        assert (chunk.key, chunk.document_id, chunk.version, chunk.text, chunk.ordinal) == (
            key,
            "a",
            1,
            "chunk 0",
            0,
        )
        assert (document.id, document.metadata) == ("a", {"k": "v"})

    def test_lookup_serves_only_active_chunks_of_live_documents(
        self, chunk_store: ChunkStore, mixed_keys: list[int]
    ) -> None:
        found = chunk_store.lookup(mixed_keys)

        assert set(found) == set(mixed_keys[:7])
        assert found[mixed_keys[0]][1].metadata == RICH_METADATA
        assert found[mixed_keys[5]][1].title == "Ünïcode title"

    def test_lookup_ignores_chunks_before_activation(
        self, store: MetadataStore, chunk_store: ChunkStore, collection: str
    ) -> None:
        version = accept(store, collection, "a")
        _, keys = chunk_store.replace_chunks(collection, "a", version, new_chunks(2))

        assert chunk_store.lookup(keys) == {}

    def test_lookup_ignores_chunks_of_a_pending_version(
        self, store: MetadataStore, chunk_store: ChunkStore, collection: str
    ) -> None:
        active = ready_document(store, chunk_store, collection, "a")
        v2 = accept(store, collection, "a", content="two")
        _, pending = chunk_store.replace_chunks(collection, "a", v2, new_chunks(2))

        assert set(chunk_store.lookup(active + pending)) == set(active)

    def test_lookup_ignores_unknown_keys(self, chunk_store: ChunkStore) -> None:
        assert chunk_store.lookup([12345]) == {}

    def test_lookup_of_no_keys_is_empty(self, chunk_store: ChunkStore) -> None:
        assert chunk_store.lookup([]) == {}

    def test_lookup_of_many_keys(
        self, store: MetadataStore, chunk_store: ChunkStore, collection: str
    ) -> None:
        many = ready_document(store, chunk_store, collection, "big", chunk_count=1200)
        asked = many + [10**9 + i for i in range(300)]  # unknown keys among the known ones

        found = chunk_store.lookup(asked)

        assert set(found) == set(many)
        assert [found[k][0].ordinal for k in many] == list(range(1200))

    def test_request_delete_hides_chunks_at_once(
        self, store: MetadataStore, chunk_store: ChunkStore, collection: str
    ) -> None:
        keys = ready_document(store, chunk_store, collection, "a")

        store.request_delete(collection, "a", 4)

        assert chunk_store.lookup(keys) == {}
        assert chunk_store.served_keys(collection) == set()

    def test_metadata_changes_show_at_once(
        self, store: MetadataStore, chunk_store: ChunkStore, collection: str
    ) -> None:
        [key] = ready_document(store, chunk_store, collection, "a", metadata={"v": 1}, chunk_count=1)
        assert chunk_store.lookup([key])[key][1].metadata == {"v": 1}

        outcome = store.accept_document(draft(collection, "a", metadata={"v": 2}), {}, 4).outcome

        assert outcome == "metadata_updated"
        assert chunk_store.lookup([key])[key][1].metadata == {"v": 2}


class MissingCollectionTest(StoreFixtures):
    """missing_collection: the check before every search."""

    def test_missing_collection_names_the_first_unknown_one(
        self, store: MetadataStore, chunk_store: ChunkStore, collection: str
    ) -> None:
        store.create_collection("other", "en", "")

        assert chunk_store.missing_collection([collection, "other", collection]) is None
        assert chunk_store.missing_collection(["nope", collection, "nada"]) == "nope"
        assert chunk_store.missing_collection([collection, "nada", "nope"]) == "nada"
        assert chunk_store.missing_collection([]) is None


class ServedKeysTest(StoreFixtures):
    """served_keys: the keys searches may see in one collection, optionally filtered by metadata."""

    @pytest.fixture
    def keys_by_document(
        self, store: MetadataStore, chunk_store: ChunkStore, collection: str
    ) -> dict[str, set[int]]:
        """The served keys of each of ``FILTERED_DOCUMENTS``."""
        return {
            name: set(ready_document(store, chunk_store, collection, name, metadata=metadata))
            for name, metadata in FILTERED_DOCUMENTS.items()
        }

    def test_served_keys_are_limited_to_the_collection(
        self, store: MetadataStore, chunk_store: ChunkStore, collection: str
    ) -> None:
        mine = ready_document(store, chunk_store, collection, "a")
        store.create_collection("other", "en", "")
        ready_document(store, chunk_store, "other", "a")

        assert chunk_store.served_keys(collection) == set(mine)

    @pytest.mark.parametrize(("filters", "expected"), FILTER_CASES, ids=case_id)
    def test_served_keys_with_filters(
        self,
        chunk_store: ChunkStore,
        collection: str,
        keys_by_document: dict[str, set[int]],
        filters: list[FieldFilter],
        expected: str,
    ) -> None:
        wanted = set().union(*(keys_by_document[name] for name in expected))

        assert chunk_store.served_keys(collection, filters) == wanted

    def test_served_keys_without_filters_is_every_document(
        self, chunk_store: ChunkStore, collection: str, keys_by_document: dict[str, set[int]]
    ) -> None:
        assert chunk_store.served_keys(collection) == set().union(*keys_by_document.values())

    def test_filters_see_metadata_updates_at_once(
        self, store: MetadataStore, chunk_store: ChunkStore, collection: str
    ) -> None:
        keys = set(ready_document(store, chunk_store, collection, "a", metadata={"tag": "old"}))
        accepted = store.accept_document(draft(collection, "a", metadata={"tag": "new"}), {}, 4)

        assert accepted.outcome == "metadata_updated"
        assert chunk_store.served_keys(collection, [FieldFilter("tag", "eq", "new")]) == keys
        assert chunk_store.served_keys(collection, [FieldFilter("tag", "eq", "old")]) == set()

    @pytest.mark.parametrize("bad", INVALID_FILTERS.values(), ids=INVALID_FILTERS.keys())
    def test_invalid_filters_are_bad_requests(
        self, chunk_store: ChunkStore, collection: str, bad: FieldFilter
    ) -> None:
        with pytest.raises(BadRequest):
            chunk_store.served_keys(collection, [bad])


class IndexEntriesTest(StoreFixtures):
    """index_entries: what the search index is rebuilt from."""

    def test_index_entries_round_trip_tokens_and_vectors(
        self, store: MetadataStore, chunk_store: ChunkStore, collection: str
    ) -> None:
        version = accept(store, collection, "a")
        rows = new_chunks(3)
        _, keys = chunk_store.replace_chunks(collection, "a", version, rows)

        entries = {e.key: e for e in chunk_store.index_entries(set(keys), DIMENSION)}

        assert set(entries) == set(keys)
        for key, row in zip(keys, rows, strict=True):
            assert list(entries[key].tokens) == row.tokens
            vector = np.asarray(entries[key].vector)
            assert vector.dtype == np.float32
            assert vector.tolist() == [float(row.ordinal), 1.0, 0.0, 0.0]

    def test_index_entries_of_many_keys(
        self, store: MetadataStore, chunk_store: ChunkStore, collection: str
    ) -> None:
        version = accept(store, collection, "a")
        _, keys = chunk_store.replace_chunks(collection, "a", version, new_chunks(501))

        assert {e.key for e in chunk_store.index_entries(set(keys), DIMENSION)} == set(keys)


class VersionSpansTest(StoreFixtures):
    """version_spans: the text and offsets of one version's chunks, in order."""

    def test_version_spans_are_in_ordinal_order(
        self, store: MetadataStore, chunk_store: ChunkStore, collection: str
    ) -> None:
        version = accept(store, collection, "a")
        chunk_store.replace_chunks(collection, "a", version, list(reversed(new_chunks(3))))

        spans = chunk_store.version_spans(collection, "a", version)

        assert spans == [("chunk 0", 0, 9), ("chunk 1", 10, 19), ("chunk 2", 20, 29)]

    def test_version_spans_leave_out_other_versions(
        self, store: MetadataStore, chunk_store: ChunkStore, collection: str
    ) -> None:
        ready_document(store, chunk_store, collection, "a", chunk_count=3)
        v2 = accept(store, collection, "a", content="two")
        chunk_store.replace_chunks(collection, "a", v2, new_chunks(1, prefix="new"))

        assert chunk_store.version_spans(collection, "a", v2) == [("new 0", 0, 9)]

    def test_version_spans_of_an_unknown_version_are_empty(
        self, store: MetadataStore, chunk_store: ChunkStore, collection: str
    ) -> None:
        ready_document(store, chunk_store, collection, "a")

        assert chunk_store.version_spans(collection, "a", 7) == []
