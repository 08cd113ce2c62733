"""HTTP request and response models (with descriptions and examples for /docs)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ragworks.domain import Collection, Document, Job


class ErrorBody(BaseModel):
    code: str = Field(..., description="Stable machine-readable code.", examples=["not_found"])
    message: str = Field(..., description="What went wrong, for people.")
    details: Any = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class CollectionCreate(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "docs", "language": "auto"}]})

    name: str = Field(..., description="1-64 of a-z, 0-9, '_' and '-'.", examples=["docs"])
    language: str = Field("auto", description="'auto' (per chunk), 'en' or 'ko'.")
    description: str = Field("", max_length=2000)


class CollectionOut(BaseModel):
    name: str
    language: str
    description: str
    created_at: float = Field(..., description="Unix time.")
    document_count: int
    chunk_count: int

    @classmethod
    def of(cls, c: Collection) -> CollectionOut:
        return cls(
            name=c.name,
            language=c.language,
            description=c.description,
            created_at=c.created_at,
            document_count=c.document_count,
            chunk_count=c.chunk_count,
        )


class CollectionList(BaseModel):
    collections: list[CollectionOut]


class TextDocumentIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "faq-1",
                    "title": "Refunds",
                    "text": "Refunds take 5 days.",
                    "metadata": {"year": 2024},
                }
            ]
        }
    )

    id: str | None = Field(None, description="Your id; derived from the content when omitted.")
    title: str | None = Field(None, max_length=2000)
    text: str = Field(..., min_length=1, description="The document's text (plain or Markdown).")
    metadata: dict[str, Any] | None = Field(
        None, description="Filterable fields (strings, numbers, booleans)."
    )


class TextDocumentsIn(BaseModel):
    documents: list[TextDocumentIn] = Field(..., min_length=1, max_length=10_000)


class AcceptedDocument(BaseModel):
    id: str | None = Field(None, description="Document id (None when rejected).")
    job_id: str | None = Field(None, description="Job that indexes this version (watch it at /v1/jobs/{id}).")
    status: str = Field(..., description="queued | unchanged | metadata_updated | rejected | ...")
    version: int | None = None
    filename: str | None = None
    error: ErrorBody | None = Field(None, description="Why the file was rejected.")


class AcceptedDocuments(BaseModel):
    documents: list[AcceptedDocument]


class DocumentOut(BaseModel):
    id: str
    collection: str
    title: str | None
    metadata: dict[str, Any]
    status: str = Field(..., description="queued | processing | ready | failed | deleted")
    version: int = Field(..., description="Latest accepted version.")
    active_version: int | None = Field(
        ..., description="Version searches see (old one until the new is ready)."
    )
    content_hash: str
    source: str | None
    mime: str | None
    size_bytes: int
    chunk_count: int
    error: ErrorBody | None
    job_id: str | None
    created_at: float
    updated_at: float

    @classmethod
    def of(cls, d: Document) -> DocumentOut:
        error = ErrorBody(code=d.error_code, message=d.error_message or "") if d.error_code else None
        return cls(
            id=d.id,
            collection=d.collection,
            title=d.title,
            metadata=d.metadata,
            status=str(d.status),
            version=d.version,
            active_version=d.active_version,
            content_hash=d.content_hash,
            source=d.source,
            mime=d.mime,
            size_bytes=d.size_bytes,
            chunk_count=d.chunk_count,
            error=error,
            job_id=d.job_id,
            created_at=d.created_at,
            updated_at=d.updated_at,
        )


class DocumentPage(BaseModel):
    documents: list[DocumentOut]
    next_cursor: str | None = Field(None, description="Pass as ?cursor= for the next page.")


class JobOut(BaseModel):
    id: str
    kind: str
    status: str = Field(
        ..., description="queued | running | succeeded | failed (retry pending) | dead | cancelled"
    )
    collection: str | None
    document_id: str | None
    attempts: int
    max_attempts: int
    next_run_at: float
    progress: float = Field(..., description="0..1")
    stage: str | None = Field(None, description="Current stage: parse, chunk, analyze, embed, index, done.")
    error: ErrorBody | None
    result: dict[str, Any] | None
    history: list[dict[str, Any]] = Field(
        default_factory=list, description="Failed attempts with their errors."
    )
    created_at: float
    updated_at: float
    started_at: float | None
    finished_at: float | None

    @classmethod
    def of(cls, j: Job) -> JobOut:
        error = ErrorBody(code=j.error_type, message=j.error_message or "") if j.error_type else None
        return cls(
            id=j.id,
            kind=j.kind,
            status=str(j.status),
            collection=j.collection,
            document_id=j.document_id,
            attempts=j.attempts,
            max_attempts=j.max_attempts,
            next_run_at=j.next_run_at,
            progress=j.progress,
            stage=j.stage,
            error=error,
            result=j.result,
            history=j.history,
            created_at=j.created_at,
            updated_at=j.updated_at,
            started_at=j.started_at,
            finished_at=j.finished_at,
        )


class JobPage(BaseModel):
    jobs: list[JobOut]
    next_cursor: str | None = None
