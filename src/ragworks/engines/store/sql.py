"""The metadata store on SQLAlchemy Core: SQLite (WAL) in the embedded profile."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from ragworks.domain import (
    DEFAULT_TENANT,
    Acceptance,
    Collection,
    Document,
    DocumentDraft,
    DocumentStatus,
    FieldFilter,
    FusionCalibration,
    JobKind,
    JobStatus,
)
from ragworks.engines.queue.sql import insert_job
from ragworks.engines.store.accept import AcceptBatch
from ragworks.engines.store.engine import create_engines
from ragworks.engines.store.filters import metadata_condition
from ragworks.engines.store.migrate import migrate
from ragworks.engines.store.rows import document_from_row
from ragworks.engines.store.schema import chunks, collections, documents, jobs
from ragworks.engines.store.sql_collection_models import SqlCollectionModels
from ragworks.errors import Conflict, NotFound, NotReady

_T = TypeVar("_T")


class SqlDatabase:
    """Owns the engines; shared by the metadata store, the chunk store and the job queue."""

    def __init__(self, url: str, lock_timeout_s: float = 30.0) -> None:
        self.url = url
        self.lock_timeout_s = lock_timeout_s
        self._engines: tuple[Engine, Engine] | None = None

    def start(self) -> None:
        """Create the engines and migrate the schema to the newest version."""
        self._engines = create_engines(self.url, self.lock_timeout_s)
        migrate(self.writer)

    def close(self) -> None:
        """Dispose of the connection pools."""
        if self._engines:
            for engine in set(self._engines):
                engine.dispose()
            self._engines = None

    def lock_documents(self, conn: Connection, keys: Sequence[tuple[str, str]]) -> None:
        """Serialise write transactions that read these documents before writing them; SQLite's one
        write lock (taken at BEGIN IMMEDIATE) already does, other engines lock per document."""

    @property
    def writer(self) -> Engine:
        if self._engines is None:
            raise NotReady("the metadata store is not started")
        return self._engines[0]

    @property
    def reader(self) -> Engine:
        if self._engines is None:
            raise NotReady("the metadata store is not started")
        return self._engines[1]


class SqlMetadataStore(SqlCollectionModels):
    """Collections and documents (see ``MetadataStore`` for the contract)."""

    def __init__(self, db: SqlDatabase) -> None:
        self.db = db

    # collections -------------------------------------------------------------------------------

    def create_collection(
        self, name: str, language: str, description: str, tenant: str = DEFAULT_TENANT
    ) -> Collection:
        """Create a collection owned by ``tenant``; Conflict if the name is taken (by any tenant)."""
        with self.db.writer.begin() as conn:
            if conn.execute(select(collections.c.name).where(collections.c.name == name)).first():
                raise Conflict(f"collection '{name}' already exists")
            now = time.time()
            try:
                conn.execute(
                    insert(collections).values(
                        name=name, language=language, description=description, created_at=now, tenant=tenant
                    )
                )
            except IntegrityError:  # created meanwhile by another connection (engines without one writer)
                raise Conflict(f"collection '{name}' already exists") from None
        return Collection(
            name=name, language=language, description=description, created_at=now, tenant=tenant
        )

    def list_collections(self, tenant: str | None = None) -> list[Collection]:
        """All collections (or ``tenant``'s) with their document and chunk counts."""
        return self._collections(None, tenant)

    def collection_tenants(self, names: Sequence[str]) -> dict[str, str]:
        """The owning tenant of each of ``names`` that exists."""
        with self.db.reader.connect() as conn:
            rows = conn.execute(
                select(collections.c.name, collections.c.tenant).where(collections.c.name.in_(names))
            )
            return {str(name): str(tenant) for name, tenant in rows}

    def collection_names(self, tenant: str) -> list[str]:
        """The names of ``tenant``'s collections (no counts: a cheap read for access checks)."""
        with self.db.reader.connect() as conn:
            query = select(collections.c.name).where(collections.c.tenant == tenant)
            return list(conn.execute(query.order_by(collections.c.name)).scalars())

    def _collections(self, only: str | None, tenant: str | None = None) -> list[Collection]:
        """Collections (all, or the one named ``only``) with counts aggregated in SQL."""
        doc_counts = (
            select(
                documents.c.collection,
                func.count().label("docs"),
                func.coalesce(func.sum(documents.c.chunk_count), 0).label("chunks"),
            )
            .where(documents.c.status != DocumentStatus.DELETED)
            .group_by(documents.c.collection)
        )
        query = select(collections)
        if only is not None:
            doc_counts = doc_counts.where(documents.c.collection == only)
            query = query.where(collections.c.name == only)
        if tenant is not None:
            query = query.where(collections.c.tenant == tenant)
        counts = doc_counts.subquery()
        query = (
            query.add_columns(counts.c.docs, counts.c.chunks)
            .outerjoin(counts, counts.c.collection == collections.c.name)
            .order_by(collections.c.name)
        )
        with self.db.reader.connect() as conn:
            return [
                Collection(
                    name=r.name,
                    language=r.language,
                    description=r.description,
                    created_at=r.created_at,
                    document_count=r.docs or 0,
                    chunk_count=r.chunks or 0,
                    embed_model=r.embed_model,
                    embed_dimension=r.embed_dimension,
                    tenant=r.tenant,
                    fusion=FusionCalibration.from_json(r.fusion) if r.fusion else None,
                )
                for r in conn.execute(query)
            ]

    def require_collections(self, names: Sequence[str]) -> None:
        """NotFound naming the first of ``names`` that does not exist (a cheap check for hot paths)."""
        with self.db.reader.connect() as conn:
            known = set(
                conn.execute(select(collections.c.name).where(collections.c.name.in_(names))).scalars()
            )
        for name in names:
            if name not in known:
                raise NotFound(f"collection '{name}' does not exist")

    def get_collection(self, name: str) -> Collection:
        """One collection; NotFound if missing."""
        for found in self._collections(name):
            return found
        raise NotFound(f"collection '{name}' does not exist")

    def delete_collection(self, name: str) -> None:
        """Remove the collection, its documents and chunk records (the caller drops its index)."""
        with self.db.writer.begin() as conn:
            deleted = conn.execute(delete(collections).where(collections.c.name == name)).rowcount
            if not deleted:
                raise NotFound(f"collection '{name}' does not exist")
            conn.execute(delete(documents).where(documents.c.collection == name))
            conn.execute(delete(chunks).where(chunks.c.collection == name))
            waiting = (JobStatus.QUEUED, JobStatus.FAILED)
            conn.execute(
                update(jobs)
                .where(jobs.c.collection == name, jobs.c.status.in_(waiting))
                .values(status=JobStatus.CANCELLED, finished_at=time.time(), updated_at=time.time())
            )

    # documents ---------------------------------------------------------------------------------

    def accept_document(self, draft: DocumentDraft, payload: dict[str, Any], max_attempts: int) -> Acceptance:
        """Record a new document or version and enqueue its ingest job in the same transaction."""
        return self.accept_documents([(draft, payload)], max_attempts)[0]

    def accept_documents(
        self, items: Sequence[tuple[DocumentDraft, dict[str, Any]]], max_attempts: int
    ) -> list[Acceptance]:
        """Accept documents (see ``accept_document``) all in one transaction, or none of them.

        Items are decided in order, as if accepted one after another: a later item with the same id
        sees what the earlier one did.
        """
        keys = [(draft.collection, draft.id) for draft, _ in items]
        with self.db.writer.begin() as conn:
            for name in dict.fromkeys(draft.collection for draft, _ in items):
                self._require_collection(conn, name, keep=True)
            self.db.lock_documents(conn, keys)
            stored = documents_by_key(conn, keys)
            batch = AcceptBatch(stored, max_attempts, time.time())
            accepted = [batch.accept(draft, payload) for draft, payload in items]
            batch.write(conn)
        return accepted

    def get_document(self, collection: str, document_id: str) -> Document:
        """One document (deleted ones too, until purged); NotFound if missing."""
        with self.db.reader.connect() as conn:
            self._require_collection(conn, collection)
            return self._get(conn, collection, document_id)

    def list_documents(
        self,
        collection: str,
        *,
        status: str | None = None,
        filters: Sequence[FieldFilter] = (),
        limit: int = 50,
        after: tuple[float, str] | None = None,
    ) -> list[Document]:
        """Documents newest first, keyset-paginated on (updated_at, id), optionally filtered."""
        query = select(documents).where(documents.c.collection == collection)
        if status:
            query = query.where(documents.c.status == status)
        if filters:
            query = query.where(metadata_condition(filters))
        if after:
            updated_at, doc_id = after
            query = query.where(
                (documents.c.updated_at < updated_at)
                | ((documents.c.updated_at == updated_at) & (documents.c.id < doc_id))
            )
        query = query.order_by(documents.c.updated_at.desc(), documents.c.id.desc()).limit(limit)
        with self.db.reader.connect() as conn:
            self._require_collection(conn, collection)
            return [document_from_row(r) for r in conn.execute(query)]

    def get_documents(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Document]:
        """The documents among ``keys`` (collection, id) that exist, by key, read in one snapshot."""
        with self.db.reader.connect() as conn:
            return documents_by_key(conn, keys)

    def set_document_status(
        self,
        collection: str,
        document_id: str,
        version: int,
        status: DocumentStatus,
        error: tuple[str, str] | None = None,
    ) -> None:
        """Set the status of the latest version (no-op when ``version`` was superseded)."""
        code, message = error or (None, None)
        with self.db.writer.begin() as conn:
            conn.execute(
                self._where(update(documents), collection, document_id)
                .where(documents.c.version == version, documents.c.status != DocumentStatus.DELETED)
                .values(status=status, error_code=code, error_message=message, updated_at=time.time())
            )

    def set_documents_status(self, versions: Sequence[tuple[str, str, int]], status: DocumentStatus) -> None:
        """Set ``status`` (no error) on each (collection, id, version) in one transaction; as
        ``set_document_status``, versions superseded or deleted meanwhile are left alone."""
        if not versions:
            return
        statement = (
            update(documents)
            .where(
                documents.c.collection == bindparam("b_collection"),
                documents.c.id == bindparam("b_id"),
                documents.c.version == bindparam("b_version"),
                documents.c.status != DocumentStatus.DELETED,
            )
            .values(status=status, error_code=None, error_message=None, updated_at=time.time())
        )
        rows = [{"b_collection": c, "b_id": d, "b_version": v} for c, d, v in versions]
        with self.db.writer.begin() as conn:
            conn.execute(statement, rows)

    def request_delete(self, collection: str, document_id: str, max_attempts: int) -> str:
        """Hide the document from searches at once and enqueue the job that purges it."""
        with self.db.writer.begin() as conn:
            self.db.lock_documents(conn, [(collection, document_id)])
            document = self._get(conn, collection, document_id)
            if document.status == DocumentStatus.DELETED:
                return document.job_id or ""
            job_id = insert_job(
                conn,
                kind=JobKind.DELETE,
                payload={"version": document.version},
                collection=collection,
                document_id=document_id,
                max_attempts=max_attempts,
            )
            conn.execute(
                self._where(update(documents), collection, document_id).values(
                    status=DocumentStatus.DELETED, job_id=job_id, updated_at=time.time()
                )
            )
        return job_id

    # helpers -----------------------------------------------------------------------------------

    @staticmethod
    def _where(statement: Any, collection: str, document_id: str) -> Any:
        return statement.where(documents.c.collection == collection, documents.c.id == document_id)

    def _get(self, conn: Connection, collection: str, document_id: str) -> Document:
        row = conn.execute(self._where(select(documents), collection, document_id)).first()
        if row is None:
            raise NotFound(f"document '{document_id}' not found in collection '{collection}'")
        return document_from_row(row)

    @staticmethod
    def _require_collection(conn: Connection, name: str, keep: bool = False) -> None:
        """NotFound unless ``name`` exists; ``keep`` also stops it being deleted before the
        transaction ends (a shared row lock, where the engine has row locks)."""
        query = select(collections.c.name).where(collections.c.name == name)
        if keep:
            query = query.with_for_update(read=True)
        if not conn.execute(query).first():
            raise NotFound(f"collection '{name}' does not exist")


def chunked(values: Sequence[_T], size: int = 500) -> list[Sequence[_T]]:
    """Split ``values`` into slices small enough for an SQL IN list."""
    return [values[i : i + size] for i in range(0, len(values), size)]


def documents_by_key(conn: Connection, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Document]:
    """The documents among ``keys`` (collection, id) that exist, by key."""
    ids: dict[str, list[str]] = {}
    for collection, document_id in dict.fromkeys(keys):
        ids.setdefault(collection, []).append(document_id)
    found: dict[tuple[str, str], Document] = {}
    for collection, names in ids.items():
        for part in chunked(names):
            query = select(documents).where(documents.c.collection == collection, documents.c.id.in_(part))
            for row in conn.execute(query):
                found[(collection, row.id)] = document_from_row(row)
    return found
