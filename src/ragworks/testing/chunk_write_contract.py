"""ChunkStore contract mixins for writes: replace a version's chunks, activate it, purge a document."""

from __future__ import annotations

import pytest

from ragworks.domain import DocumentStatus
from ragworks.engines.store.base import ChunkStore, MetadataStore
from ragworks.errors import NotFound
from ragworks.testing.builders import (
    DIMENSION,
    accept,
    new_chunks,
    ready_document,
)
from ragworks.testing.store_fixtures import StoreFixtures


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

    def test_purge_after_the_document_was_accepted_again_keeps_the_new_version(
        self, store: MetadataStore, chunk_store: ChunkStore, collection: str
    ) -> None:
        old = ready_document(store, chunk_store, collection, "a")
        deleted_version = store.get_document(collection, "a").version
        store.request_delete(collection, "a", 4)
        again = accept(store, collection, "a", content="again")
        _, pending = chunk_store.replace_chunks(collection, "a", again, new_chunks(1))

        removed = chunk_store.purge_document(collection, "a", deleted_version)

        assert sorted(removed) == sorted(old)
        document = store.get_document(collection, "a")
        assert (document.version, document.status, document.active_version) == (
            again,
            DocumentStatus.QUEUED,
            None,
        )
        assert chunk_store.activate_version(collection, "a", again, 1) == []
        assert chunk_store.served_keys(collection) == set(pending)

    def test_purge_with_its_version_removes_a_document_still_deleted(
        self, store: MetadataStore, chunk_store: ChunkStore, collection: str
    ) -> None:
        keys = ready_document(store, chunk_store, collection, "a")
        store.request_delete(collection, "a", 4)

        assert sorted(chunk_store.purge_document(collection, "a", 1)) == sorted(keys)
        with pytest.raises(NotFound):
            store.get_document(collection, "a")
