"""Contract tests every ChunkStore adapter must pass, one mixin per capability.

An adapter's test class lists the mixins it passes (or ``ChunkStoreContract`` for all of them) after a
base that provides, over one fresh, started database, the fixtures ``store`` (the ``MetadataStore``
whose documents the chunks belong to), ``chunk_store`` (the ``ChunkStore`` under test), ``queue`` and
``admin`` (see ``ragworks.testing.store_contract``); ``collection`` is provided here::

    class TestSqlChunks(SqliteStores, ReplaceChunksTest, ActivateTest): ...
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from ragworks.domain import DocumentStatus, FieldFilter
from ragworks.engines.store.base import ChunkStore, MetadataStore
from ragworks.errors import BadRequest, NotFound
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
from ragworks.testing.store_contract import StoreFixtures

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


class ReplaceChunksTest(StoreFixtures):
    """replace_chunks and replace_chunks_many: one version's rows, replacing an earlier attempt's."""

    def test_replace_chunks_first_time_removes_nothing(
        self, store: MetadataStore, chunk_store: ChunkStore, collection: str
    ) -> None:
        version = accept(store, collection, "a")

        removed, added = chunk_store.replace_chunks(collection, "a", version, new_chunks(3))

        assert removed == []
        assert len(set(added)) == 3

    def test_replace_chunks_twice_replaces_the_earlier_rows(
        self, store: MetadataStore, chunk_store: ChunkStore, collection: str
    ) -> None:
        version = accept(store, collection, "a")
        _, first = chunk_store.replace_chunks(collection, "a", version, new_chunks(2))

        removed, second = chunk_store.replace_chunks(collection, "a", version, new_chunks(3, prefix="new"))

        assert sorted(removed) == sorted(first)
        stored = list(chunk_store.index_entries(set(first) | set(second), DIMENSION))
        assert sorted(e.key for e in stored) == sorted(second)
        assert {e.tokens[0] for e in stored} == {"new"}

    def test_replace_chunks_keeps_rows_of_other_versions(
        self, store: MetadataStore, chunk_store: ChunkStore, collection: str
    ) -> None:
        v1 = ready_document(store, chunk_store, collection, "a")
        v2 = accept(store, collection, "a", content="two")

        removed, _ = chunk_store.replace_chunks(collection, "a", v2, new_chunks(2))

        assert removed == []
        assert set(chunk_store.lookup(v1)) == set(v1)

    def test_replace_chunks_many_returns_each_items_keys_in_order(
        self, store: MetadataStore, chunk_store: ChunkStore, collection: str
    ) -> None:
        a, b = accept(store, collection, "a"), accept(store, collection, "b")
        _, earlier = chunk_store.replace_chunks(collection, "a", a, new_chunks(1))

        outcome = chunk_store.replace_chunks_many(
            [(collection, "a", a, new_chunks(2, prefix="a")), (collection, "b", b, new_chunks(3, prefix="b"))]
        )

        (removed_a, added_a), (removed_b, added_b) = outcome
        assert (removed_a, removed_b, len(added_a), len(added_b)) == (earlier, [], 2, 3)
        entries = {e.key: e.tokens for e in chunk_store.index_entries(set(added_a + added_b), DIMENSION)}
        assert [entries[k] for k in added_a] == [["a", "0"], ["a", "1"]]
        assert [entries[k] for k in added_b] == [["b", "0"], ["b", "1"], ["b", "2"]]

    def test_replace_chunks_many_repeating_a_version_replaces_the_earlier_item(
        self, store: MetadataStore, chunk_store: ChunkStore, collection: str
    ) -> None:
        version = accept(store, collection, "a")

        (_, first), (removed, second) = chunk_store.replace_chunks_many(
            [
                (collection, "a", version, new_chunks(2)),
                (collection, "a", version, new_chunks(1, prefix="new")),
            ]
        )

        assert removed == first
        assert {e.key for e in chunk_store.index_entries(set(first + second), DIMENSION)} == set(second)


class ActivateTest(StoreFixtures):
    """activate_version and activate_versions: serve a version, drop older ones, never go back."""

    def test_activate_version_makes_it_active_and_ready(
        self, store: MetadataStore, chunk_store: ChunkStore, collection: str
    ) -> None:
        version = accept(store, collection, "a")
        chunk_store.replace_chunks(collection, "a", version, new_chunks(2))

        assert chunk_store.activate_version(collection, "a", version, 2) == []

        document = store.get_document(collection, "a")
        assert (document.active_version, document.status, document.chunk_count) == (
            1,
            DocumentStatus.READY,
            2,
        )

    def test_activate_version_deletes_older_versions_and_returns_their_keys(
        self, store: MetadataStore, chunk_store: ChunkStore, collection: str
    ) -> None:
        old = ready_document(store, chunk_store, collection, "a", chunk_count=2)
        v2 = accept(store, collection, "a", content="two")
        _, new = chunk_store.replace_chunks(collection, "a", v2, new_chunks(1))

        removed = chunk_store.activate_version(collection, "a", v2, 1)

        assert removed is not None
        assert sorted(removed) == sorted(old)
        assert list(chunk_store.index_entries(set(old), DIMENSION)) == []
        assert set(chunk_store.lookup(old + new)) == set(new)
        assert store.get_document(collection, "a").active_version == 2

    def test_activate_version_clears_a_previous_error(
        self, store: MetadataStore, chunk_store: ChunkStore, collection: str
    ) -> None:
        version = accept(store, collection, "a")
        store.set_document_status(collection, "a", version, DocumentStatus.FAILED, ("boom", "failed once"))

        chunk_store.activate_version(collection, "a", version, 0)

        document = store.get_document(collection, "a")
        assert (document.status, document.error_code, document.error_message) == (
            DocumentStatus.READY,
            None,
            None,
        )

    def test_activate_older_version_keeps_the_status_of_the_latest(
        self, store: MetadataStore, chunk_store: ChunkStore, collection: str
    ) -> None:
        v1 = accept(store, collection, "a")
        accept(store, collection, "a", content="two")

        assert chunk_store.activate_version(collection, "a", v1, 0) == []

        document = store.get_document(collection, "a")
        assert (document.active_version, document.status) == (1, DocumentStatus.QUEUED)

    def test_activate_returns_none_when_a_newer_version_is_active(
        self, store: MetadataStore, chunk_store: ChunkStore, collection: str
    ) -> None:
        v1 = accept(store, collection, "a")
        chunk_store.replace_chunks(collection, "a", v1, new_chunks(1))
        v2 = accept(store, collection, "a", content="two")
        chunk_store.activate_version(collection, "a", v2, 0)

        assert chunk_store.activate_version(collection, "a", v1, 1) is None
        assert store.get_document(collection, "a").active_version == 2

    def test_activate_returns_none_when_the_document_is_deleted(
        self, store: MetadataStore, chunk_store: ChunkStore, collection: str
    ) -> None:
        version = accept(store, collection, "a")
        store.request_delete(collection, "a", 4)

        assert chunk_store.activate_version(collection, "a", version, 0) is None
        assert store.get_document(collection, "a").active_version is None

    def test_activate_returns_none_for_a_missing_document(
        self, chunk_store: ChunkStore, collection: str
    ) -> None:
        assert chunk_store.activate_version(collection, "missing", 1, 0) is None

    def test_activate_versions_skips_deleted_and_superseded_documents(
        self, store: MetadataStore, chunk_store: ChunkStore, collection: str
    ) -> None:
        old = ready_document(store, chunk_store, collection, "a")
        a2 = accept(store, collection, "a", content="two")
        _, new = chunk_store.replace_chunks(collection, "a", a2, new_chunks(1))
        deleted = accept(store, collection, "deleted")
        store.request_delete(collection, "deleted", 4)
        behind = accept(store, collection, "behind")
        behind2 = accept(store, collection, "behind", content="two")
        chunk_store.activate_version(collection, "behind", behind2, 0)

        outcome = chunk_store.activate_versions(
            [
                (collection, "a", a2, 1),
                (collection, "deleted", deleted, 0),
                (collection, "behind", behind, 0),
                (collection, "missing", 1, 0),
            ]
        )

        assert outcome == [old, None, None, None]
        document = store.get_document(collection, "a")
        assert (document.active_version, document.status, document.chunk_count) == (
            2,
            DocumentStatus.READY,
            1,
        )
        assert chunk_store.served_keys(collection) == set(new)
        assert store.get_document(collection, "behind").active_version == 2

    def test_activate_versions_of_one_document_in_order_keeps_the_last(
        self, store: MetadataStore, chunk_store: ChunkStore, collection: str
    ) -> None:
        v1 = accept(store, collection, "a")
        v2 = accept(store, collection, "a", content="two")
        (_, first), (_, second) = chunk_store.replace_chunks_many(
            [(collection, "a", v1, new_chunks(1)), (collection, "a", v2, new_chunks(2))]
        )

        outcome = chunk_store.activate_versions([(collection, "a", v1, 1), (collection, "a", v2, 2)])

        assert outcome == [[], first]
        document = store.get_document(collection, "a")
        assert (document.active_version, document.status, document.chunk_count) == (
            2,
            DocumentStatus.READY,
            2,
        )
        assert chunk_store.served_keys(collection) == set(second)


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


class PurgeTest(StoreFixtures):
    """purge_document: a document and every version's chunks go; keys are never reused."""

    def test_purge_document_returns_keys_of_every_version(
        self, store: MetadataStore, chunk_store: ChunkStore, collection: str
    ) -> None:
        active = ready_document(store, chunk_store, collection, "a")
        v2 = accept(store, collection, "a", content="two")
        _, pending = chunk_store.replace_chunks(collection, "a", v2, new_chunks(1))

        assert sorted(chunk_store.purge_document(collection, "a")) == sorted(active + pending)

    def test_purge_document_removes_rows(
        self, store: MetadataStore, chunk_store: ChunkStore, collection: str
    ) -> None:
        keys = ready_document(store, chunk_store, collection, "a")

        chunk_store.purge_document(collection, "a")

        assert list(chunk_store.index_entries(set(keys), DIMENSION)) == []
        with pytest.raises(NotFound):
            store.get_document(collection, "a")

    def test_purge_document_leaves_other_documents(
        self, store: MetadataStore, chunk_store: ChunkStore, collection: str
    ) -> None:
        ready_document(store, chunk_store, collection, "a")
        kept = ready_document(store, chunk_store, collection, "b")

        chunk_store.purge_document(collection, "a")

        assert chunk_store.served_keys(collection) == set(kept)

    def test_chunk_keys_are_not_reused_after_purge(
        self, store: MetadataStore, chunk_store: ChunkStore, collection: str
    ) -> None:
        purged = ready_document(store, chunk_store, collection, "a")
        chunk_store.purge_document(collection, "a")

        fresh = ready_document(store, chunk_store, collection, "b")

        assert set(fresh).isdisjoint(purged)


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


class ChunkStoreContract(
    ReplaceChunksTest,
    ActivateTest,
    LookupTest,
    MissingCollectionTest,
    PurgeTest,
    ServedKeysTest,
    IndexEntriesTest,
    VersionSpansTest,
):
    """Every ChunkStore capability."""
