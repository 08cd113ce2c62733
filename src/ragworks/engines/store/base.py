"""The MetadataStore and ChunkStore ports: collections, documents and chunk records.

Every method is synchronous and may block: callers run them off the event loop. An adapter turns its
engine's transient overload (SQLite's write lock, PostgreSQL's serialization failures) into
``errors.Busy``, which callers may retry; nothing is written when it is raised.
"""

from __future__ import annotations

from collections.abc import Collection as AbstractSet
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from ragworks.domain import (
    DEFAULT_TENANT,
    Acceptance,
    ChunkRecord,
    Collection,
    Document,
    DocumentDraft,
    DocumentStatus,
    FieldFilter,
    FusionCalibration,
    NewChunk,
)
from ragworks.engines.index.base import IndexEntry

VersionChunks = tuple[str, str, int, Sequence[NewChunk]]  # collection, document id, version, rows
VersionCount = tuple[str, str, int, int]  # collection, document id, version, chunk count
ChunkSpan = tuple[str, int, int]  # a chunk's text and its (start, end) offsets in the document
EmbeddingModel = tuple[str, int]  # an embedding model's name and vector dimension


class Database(Protocol):
    """The connection to a store's engine, shared by the adapters built on it."""

    def start(self) -> None:
        """Connect and migrate the schema to the newest version (once, before any other call)."""

    def close(self) -> None:
        """Release connections."""


class MetadataStore(Protocol):
    """Collections and documents, with document versions and their ingest jobs."""

    def create_collection(
        self, name: str, language: str, description: str, tenant: str = DEFAULT_TENANT
    ) -> Collection:
        """Create a collection owned by ``tenant`` (names are unique across tenants).

        Raises:
            Conflict: the name is taken.
        """

    def list_collections(self, tenant: str | None = None) -> list[Collection]:
        """All collections (or only ``tenant``'s) by name, with their document and chunk counts."""

    def collection_names(self, tenant: str) -> list[str]:
        """The names of ``tenant``'s collections, without counts."""

    def collection_tenants(self, names: Sequence[str]) -> dict[str, str]:
        """The owning tenant of each of ``names`` that exists (missing names are left out)."""

    def require_collections(self, names: Sequence[str]) -> None:
        """Return when every one of ``names`` exists.

        Raises:
            NotFound: naming the first that does not.
        """

    def get_collection(self, name: str) -> Collection:
        """One collection with its counts.

        Raises:
            NotFound: no such collection.
        """

    def delete_collection(self, name: str) -> None:
        """Remove the collection, its documents and chunk records, and cancel its waiting jobs (the
        caller drops its index).

        Raises:
            NotFound: no such collection.
        """

    def claim_embedding_model(self, collection: str, model: str, dimension: int) -> EmbeddingModel:
        """Record ``(model, dimension)`` as the model of the collection's vectors unless one is
        recorded; returns the recorded one (the caller refuses to mix models when it differs).

        Raises:
            NotFound: no such collection.
        """

    def embedding_models(self, names: Sequence[str]) -> dict[str, EmbeddingModel | None]:
        """The recorded embedding model of each of ``names`` that exists (None: nothing ingested yet)."""

    def set_fusion_calibration(self, collection: str, calibration: FusionCalibration) -> None:
        """Record how hybrid search fuses its legs in ``collection`` (replacing any earlier choice).

        Raises:
            NotFound: no such collection.
        """

    def fusion_calibrations(self, names: Sequence[str]) -> dict[str, FusionCalibration | None]:
        """The recorded fusion of each of ``names`` that exists (None: not calibrated yet)."""

    def accept_document(self, draft: DocumentDraft, payload: dict[str, Any], max_attempts: int) -> Acceptance:
        """Record a new document or version and enqueue its ingest job in the same transaction.

        The same content again is ``unchanged`` (or ``metadata_updated`` when only the metadata
        differs) and enqueues nothing; new content is the next version.

        Raises:
            NotFound: the collection does not exist.
        """

    def accept_documents(
        self, items: Sequence[tuple[DocumentDraft, dict[str, Any]]], max_attempts: int
    ) -> list[Acceptance]:
        """``accept_document`` for each item, all in one transaction or none; items are decided in
        order, so a later item with the same id sees what an earlier one did."""

    def get_document(self, collection: str, document_id: str) -> Document:
        """One document (deleted ones too, until purged).

        Raises:
            NotFound: no such collection or document.
        """

    def list_documents(
        self,
        collection: str,
        *,
        status: str | None = None,
        filters: Sequence[FieldFilter] = (),
        limit: int = 50,
        after: tuple[float, str] | None = None,
    ) -> list[Document]:
        """Documents newest first, keyset-paginated on (updated_at, id) after ``after``, optionally
        of one status and matching metadata ``filters``.

        Raises:
            NotFound: no such collection.
        """

    def get_documents(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Document]:
        """The documents among ``keys`` (collection, id) that exist, by key, read in one snapshot."""

    def set_document_status(
        self,
        collection: str,
        document_id: str,
        version: int,
        status: DocumentStatus,
        error: tuple[str, str] | None = None,
    ) -> None:
        """Set the status (and error code, message) of ``version`` when it is still the latest and
        the document is not deleted; otherwise do nothing."""

    def set_documents_status(self, versions: Sequence[tuple[str, str, int]], status: DocumentStatus) -> None:
        """``set_document_status`` without an error for each (collection, id, version), in one
        transaction."""

    def request_delete(self, collection: str, document_id: str, max_attempts: int) -> str:
        """Hide the document from searches at once and enqueue the job that purges it; returns that
        job's id (the pending one when a delete was already requested).

        Raises:
            NotFound: no such document.
        """


class ChunkStore(Protocol):
    """Chunk records keyed by an integer that the search index uses as its key; the source of truth
    the index can always be rebuilt from. Keys are never reused."""

    def replace_chunks(
        self, collection: str, document_id: str, version: int, rows: Sequence[NewChunk]
    ) -> tuple[list[int], list[int]]:
        """Store the chunks of one version, replacing any left by an earlier attempt.

        Returns:
            (keys removed, keys added); the caller mirrors both in the index.
        """

    def replace_chunks_many(self, batch: Sequence[VersionChunks]) -> list[tuple[list[int], list[int]]]:
        """``replace_chunks`` for each item in one transaction; an item that repeats an earlier one's
        version replaces what that one added."""

    def activate_version(
        self, collection: str, document_id: str, version: int, chunk_count: int
    ) -> list[int] | None:
        """Atomically make ``version`` the one searches see and drop older versions' chunk rows.

        Returns:
            The removed keys, or None when the document was deleted or a newer version is already
            active (the caller then drops the chunks it wrote).
        """

    def activate_versions(self, batch: Sequence[VersionCount]) -> list[list[int] | None]:
        """``activate_version`` for each item, in order, in one transaction."""

    def purge_document(
        self, collection: str, document_id: str, through_version: int | None = None
    ) -> list[int]:
        """Delete a document and all its chunk rows; returns the keys to remove from the index.

        With ``through_version`` (the latest version when the delete was requested), a document that
        was accepted again after the delete stays: only the chunks of versions up to that one go."""

    def lookup(self, keys: Sequence[int]) -> dict[int, tuple[ChunkRecord, Document]]:
        """The chunks among ``keys`` that searches may see (active version, document not deleted),
        each with its document, read in one snapshot."""

    def missing_collection(self, names: Sequence[str]) -> str | None:
        """The first of ``names`` that is not a collection, or None (checked before every search)."""

    def served_keys(self, collection: str, filters: Sequence[FieldFilter] = ()) -> set[int]:
        """Keys of the chunks searches may see in ``collection``, optionally only of documents whose
        metadata matches ``filters``."""

    def index_entries(self, keys: AbstractSet[int], dimension: int) -> Iterator[IndexEntry]:
        """Index entries of ``keys`` rebuilt from the stored tokens and vectors."""

    def version_spans(self, collection: str, document_id: str, version: int) -> list[ChunkSpan]:
        """Text and offsets of every chunk of one version, in order."""
