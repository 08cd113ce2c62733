"""Accepting documents: validate, store the bytes durably, record the version and enqueue its job."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio

from ragworks.domain import Acceptance, Document, DocumentDraft, FieldFilter
from ragworks.engines.blob.base import BlobStore
from ragworks.engines.store.base import MetadataStore
from ragworks.engines.store.text import storable_json, storable_text
from ragworks.errors import BadRequest, RagworksError
from ragworks.ingest.parsers import detect_format
from ragworks.ingest.parsers.base import EmptyDocument

_ID = re.compile(r"^[^\x00-\x1f\ud800-\udfff]{1,512}$")

FORMAT_MIME = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "hwp": "application/x-hwp",
    "hwpx": "application/hwp+zip",
    "html": "text/html",
    "markdown": "text/markdown",
    "text": "text/plain",
    "json": "application/json",
    "jsonl": "application/jsonl",
}


@dataclass(frozen=True, slots=True)
class Upload:
    """One uploaded file."""

    filename: str | None
    data: bytes


@dataclass(frozen=True, slots=True)
class TextDocument:
    """One document given as JSON text."""

    text: str
    id: str | None = None
    title: str | None = None
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Rejection:
    """A file refused at upload, with the error that refused it."""

    filename: str | None
    error: RagworksError


@dataclass(slots=True)
class DocumentService:
    """Use-cases behind the document endpoints: accept, read, delete."""

    store: MetadataStore
    blobs: BlobStore
    max_attempts: int
    on_enqueued: Callable[[], None]

    async def accept_files(
        self, collection: str, uploads: list[Upload], metadata: dict[str, Any]
    ) -> list[Acceptance | Rejection]:
        """Accept files (one document each); unreadable types are rejected per file, the rest go on."""
        self.store.get_collection(collection)
        metadata = storable_json(metadata)
        results: list[Acceptance | Rejection] = []
        for upload in uploads:
            try:
                results.append(
                    await anyio.to_thread.run_sync(self._accept_file, collection, upload, metadata)
                )
            except RagworksError as error:
                if error.status_code >= 500:
                    raise
                results.append(Rejection(upload.filename, error))
        self.on_enqueued()
        return results

    def _accept_file(self, collection: str, upload: Upload, metadata: dict[str, Any]) -> Acceptance:
        if not upload.data.strip():
            raise EmptyDocument(f"'{upload.filename or 'upload'}' is empty")
        kind = detect_format(upload.data, upload.filename)  # 415 now for what no parser reads
        blob = self.blobs.put(upload.data)
        draft = DocumentDraft(
            collection=collection,
            id=document_id_for(upload.filename, blob),
            title=None,
            metadata=metadata,
            content_hash=blob,
            source=upload.filename,
            mime=FORMAT_MIME.get(kind),
            size_bytes=len(upload.data),
        )
        payload = {"blob": blob, "filename": upload.filename}
        return self.store.accept_document(draft, payload, self.max_attempts)

    async def accept_texts(self, collection: str, documents: list[TextDocument]) -> list[Acceptance]:
        """Accept JSON documents; the text travels inside the job, no blob needed."""
        results = await anyio.to_thread.run_sync(self._accept_texts, collection, documents)
        self.on_enqueued()
        return results

    def _accept_texts(self, collection: str, documents: list[TextDocument]) -> list[Acceptance]:
        self.store.require_collections([collection])
        items = [_text_item(collection, doc) for doc in documents]  # all valid, or none stored
        return self.store.accept_documents(items, self.max_attempts)

    async def get(self, collection: str, document_id: str) -> Document:
        """One document and its status; NotFound when missing."""
        return await anyio.to_thread.run_sync(self.store.get_document, collection, document_id)

    async def list(
        self,
        collection: str,
        *,
        status: str | None,
        filters: list[FieldFilter],
        limit: int,
        after: tuple[float, str] | None,
    ) -> list[Document]:
        """Documents newest first, filtered by status and metadata."""
        return await anyio.to_thread.run_sync(
            lambda: self.store.list_documents(
                collection, status=status, filters=filters, limit=limit, after=after
            )
        )

    async def delete(self, collection: str, document_id: str) -> str:
        """Hide a document from searches now and enqueue its purge; returns the job id."""
        job_id = await anyio.to_thread.run_sync(
            self.store.request_delete, collection, document_id, self.max_attempts
        )
        self.on_enqueued()
        return job_id


def _text_item(collection: str, doc: TextDocument) -> tuple[DocumentDraft, dict[str, Any]]:
    """The draft and job payload of one JSON document; BadRequest when it is invalid.

    Text, title and metadata lose what no store can keep (NUL characters, unpaired surrogates) before
    anything is derived from them, so the id, hash and chunk offsets are those of the stored text."""
    doc = TextDocument(
        text=storable_text(doc.text),
        id=doc.id,
        title=None if doc.title is None else storable_text(doc.title),
        metadata=None if doc.metadata is None else storable_json(doc.metadata),
    )
    if not doc.text.strip():
        raise BadRequest(f"document '{doc.id or '(no id)'}' has empty text")
    digest = hashlib.sha256(f"{doc.title or ''}\n{doc.text}".encode()).hexdigest()
    draft = DocumentDraft(
        collection=collection,
        id=check_id(doc.id) if doc.id else digest[:32],
        title=doc.title,
        metadata=doc.metadata or {},
        content_hash=digest,
        source=None,
        mime="text/plain",
        size_bytes=len(doc.text.encode()),
    )
    return draft, {"text": doc.text, "title": doc.title}


def check_id(document_id: str) -> str:
    """A client-given document id, validated."""
    if not _ID.match(document_id) or document_id.strip() != document_id:
        raise BadRequest(f"invalid document id {document_id!r}: 1-512 printable characters, no edge spaces")
    return document_id


def document_id_for(filename: str | None, content_hash: str) -> str:
    """Files are identified by name, so uploading a changed file again makes a new version."""
    if filename and filename.strip():
        return check_id(filename.strip().replace("\\", "/")[-512:])
    return content_hash[:32]
