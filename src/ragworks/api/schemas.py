"""HTTP request and response models (with descriptions and examples for /docs)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter

from ragworks.domain import Collection, Document, FusionCalibration, Job
from ragworks.engines.store.text import storable_text
from ragworks.services.base import Service

# The largest value of the stores' 64-bit integer columns (event ids, chunk keys): SQLite cannot even
# compare a larger one, so parameters compared with them are bounded by it.
MAX_INT64 = 2**63 - 1
# Free text that is stored: without what PostgreSQL cannot keep (NUL, unpaired surrogates), so it reads
# back the same from every store.
StorableText = Annotated[str, AfterValidator(storable_text)]


class ErrorBody(BaseModel):
    code: str = Field(..., description="Stable machine-readable code.", examples=["not_found"])
    message: str = Field(..., description="What went wrong, for people.")
    details: Any = Field(None, description="Extra facts about the error, e.g. the invalid fields.")


class ErrorResponse(BaseModel):
    error: ErrorBody


class CollectionCreate(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "docs", "language": "auto"}]})

    name: str = Field(..., description="1-64 of a-z, 0-9, '_' and '-'.", examples=["docs"])
    language: str = Field("auto", description="'auto' (per chunk), 'en' or 'ko'.")
    description: StorableText = Field("", max_length=2000, description="Free text shown in listings.")
    tenant: str | None = Field(
        None,
        max_length=64,
        description="Owner (admin keys only; default: the key's own tenant, or 'default').",
    )


class FusionCandidateOut(BaseModel):
    normalisation: str = Field(..., description="'minmax', 'zscore' or 'rrf'.")
    vector_weight: float = Field(..., description="Weight of the vector leg tried.")
    score: float = Field(..., description="Mean nDCG@10 of the pseudo-queries' source documents.")


class FusionOut(BaseModel):
    normalisation: str = Field(..., description="How leg scores are put on one scale.", examples=["minmax"])
    vector_weight: float = Field(
        ...,
        description="Weight of the vector leg in hybrid search (a request's vector_weight overrides).",
        examples=[0.4],
    )
    method: str = Field(
        ...,
        description="'pseudo-queries' (chosen from sentences of the collection's own chunks, each held "
        "out of its chunk, with its document as the answer), or why the defaults were kept.",
        examples=["pseudo-queries"],
    )
    pseudo_queries: int = Field(..., description="Pseudo-queries scored (0 when the defaults were kept).")
    calibrated_at: float = Field(..., description="Unix time of the choice.")
    document_count: int = Field(..., description="Documents in the collection when it was chosen.")
    candidates: list[FusionCandidateOut] = Field(..., description="Every fusion tried, with its score.")

    @classmethod
    def of(cls, f: FusionCalibration) -> FusionOut:
        return cls(
            normalisation=f.normalisation,
            vector_weight=f.vector_weight,
            method=f.method,
            pseudo_queries=f.pseudo_queries,
            calibrated_at=f.calibrated_at,
            document_count=f.document_count,
            candidates=[
                FusionCandidateOut(
                    normalisation=c.normalisation, vector_weight=c.vector_weight, score=c.score
                )
                for c in f.candidates
            ],
        )


class CollectionOut(BaseModel):
    name: str = Field(..., description="Collection name.", examples=["docs"])
    language: str = Field(..., description="'auto', 'en' or 'ko'.")
    description: str = Field(..., description="Free text.")
    created_at: float = Field(..., description="Unix time.")
    document_count: int = Field(..., description="Documents not deleted.")
    chunk_count: int = Field(..., description="Searchable chunks.")
    embed_model: str | None = Field(
        None,
        description="The embedding model that made its vectors, recorded by its first ingest (null until "
        "then); ingesting or vector search with another model is refused (409).",
        examples=["all-MiniLM-L6-v2"],
    )
    embed_dimension: int | None = Field(None, description="Length of its vectors.", examples=[384])
    tenant: str = Field("default", description="The tenant that owns it.", examples=["default"])
    fusion: FusionOut | None = Field(
        None,
        description="How hybrid search fuses keyword and vector scores here, calibrated without labels "
        "once the collection has search.calibration_min_documents documents and again as it grows; "
        "null until then (the configured defaults apply).",
    )

    @classmethod
    def of(cls, c: Collection) -> CollectionOut:
        return cls(
            name=c.name,
            language=c.language,
            description=c.description,
            created_at=c.created_at,
            document_count=c.document_count,
            chunk_count=c.chunk_count,
            embed_model=c.embed_model,
            embed_dimension=c.embed_dimension,
            tenant=c.tenant,
            fusion=FusionOut.of(c.fusion) if c.fusion else None,
        )


class CollectionList(BaseModel):
    collections: list[CollectionOut] = Field(..., description="All collections, by name.")


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


def inline_json_schema(annotation: Any) -> dict[str, Any]:
    """The JSON schema of ``annotation`` with each ``$ref`` replaced by what it refers to: a request body
    given in a route's ``openapi_extra`` has no components of its own to refer to."""
    schema: dict[str, Any] = TypeAdapter(annotation).json_schema()
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(definitions[node["$ref"].rsplit("/", 1)[-1]])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


# The JSON body of an upload: one document, or {"documents": [...]}.
TEXT_DOCUMENTS_SCHEMA = inline_json_schema(TextDocumentIn | TextDocumentsIn)


class AcceptedDocument(BaseModel):
    id: str | None = Field(None, description="Document id (None when rejected).")
    job_id: str | None = Field(None, description="Job that indexes this version (watch it at /v1/jobs/{id}).")
    status: str = Field(..., description="queued | unchanged | metadata_updated | rejected | ...")
    version: int | None = Field(None, description="Version this upload became (1 for a new document).")
    filename: str | None = Field(None, description="Uploaded file name (the document id for files).")
    error: ErrorBody | None = Field(None, description="Why the file was rejected.")


class AcceptedDocuments(BaseModel):
    documents: list[AcceptedDocument] = Field(..., description="One entry per document or file, in order.")


class DocumentOut(BaseModel):
    id: str = Field(..., description="Document id (yours, the file name, or derived from the content).")
    collection: str = Field(..., description="Collection it belongs to.")
    title: str | None = Field(..., description="Title given or found in the file.")
    metadata: dict[str, Any] = Field(..., description="Filterable fields.")
    status: str = Field(..., description="queued | processing | ready | failed | deleted")
    version: int = Field(..., description="Latest accepted version.")
    active_version: int | None = Field(
        ..., description="Version searches see (old one until the new is ready)."
    )
    content_hash: str = Field(..., description="SHA-256 of the content: same hash, no new work.")
    source: str | None = Field(..., description="Original file name.")
    mime: str | None = Field(..., description="Detected type.")
    size_bytes: int = Field(..., description="Size of the upload.")
    chunk_count: int = Field(..., description="Chunks of the active version.")
    error: ErrorBody | None = Field(..., description="Why the latest version failed, if it did.")
    job_id: str | None = Field(..., description="Job of the latest version (or of the delete).")
    created_at: float = Field(..., description="Unix time of the first version.")
    updated_at: float = Field(..., description="Unix time of the last change.")

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
    documents: list[DocumentOut] = Field(..., description="Newest first.")
    next_cursor: str | None = Field(None, description="Pass as ?cursor= for the next page.")


class JobOut(BaseModel):
    id: str = Field(..., description="Job id.")
    kind: str = Field(..., description="document.ingest or document.delete.", examples=["document.ingest"])
    status: str = Field(
        ..., description="queued | running | succeeded | failed (retry pending) | dead | cancelled"
    )
    collection: str | None = Field(..., description="Collection the job works on.")
    document_id: str | None = Field(..., description="Document the job works on.")
    attempts: int = Field(
        ...,
        description="Attempts counted so far (one that failed on an outage, a full disk or a part down, "
        "is given back).",
    )
    max_attempts: int = Field(..., description="Attempts before the job is dead.")
    next_run_at: float = Field(..., description="Unix time of the next attempt (retries back off).")
    progress: float = Field(..., description="0..1")
    stage: str | None = Field(None, description="Current stage: parse, chunk, analyze, embed, index, done.")
    error: ErrorBody | None = Field(..., description="Error of the last failed attempt.")
    result: dict[str, Any] | None = Field(..., description="What the job produced (chunks, pages, ...).")
    history: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Failed attempts with their errors; `outage: true` marks those that were given back.",
    )
    created_at: float = Field(..., description="Unix time the job was accepted.")
    updated_at: float = Field(..., description="Unix time of the last change.")
    started_at: float | None = Field(..., description="Unix time of the first attempt.")
    finished_at: float | None = Field(..., description="Unix time it succeeded, died or was cancelled.")

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
    jobs: list[JobOut] = Field(..., description="Newest first.")
    next_cursor: str | None = Field(None, description="Pass as ?cursor= for the next page.")


class ServiceAccepted(BaseModel):
    job_id: str = Field(..., description="Watch it at GET /v1/jobs/{job_id}; the output lands in `result`.")
    status: str = Field(..., description="queued", examples=["queued"])
    service: str = Field(..., description="The service that will run.")
    status_url: str = Field(..., description="Where to watch the job (also the Location header).")


class ServiceInfo(BaseModel):
    name: str = Field(..., description="Registry name; POST /v1/services/{name}.")
    summary: str = Field(..., description="One line.")
    description: str = Field("", description="More detail.")
    routes: list[str] = Field(..., description="Every route that runs it.")
    streams: bool = Field(..., description="Whether `stream: true` yields tokens as they come.")
    input_schema: dict[str, Any] = Field(..., description="JSON schema of the input.")
    output_schema: dict[str, Any] = Field(..., description="JSON schema of the output.")

    @classmethod
    def of(cls, s: Service[Any, Any]) -> ServiceInfo:
        return cls(
            name=s.name,
            summary=s.summary,
            description=s.description,
            routes=[f"/v1/services/{s.name}", *s.aliases],
            streams=s.stream is not None,
            input_schema=s.input.model_json_schema(),
            output_schema=s.output.model_json_schema(),
        )


class ServiceList(BaseModel):
    services: list[ServiceInfo] = Field(..., description="By registration order: built-ins first.")
