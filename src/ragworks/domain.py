"""Core records shared by every layer: collections, documents, chunks and jobs."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class DocumentStatus(enum.StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"
    DELETED = "deleted"


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # an attempt failed; will retry at next_run_at
    DEAD = "dead"  # last attempt failed: the dead-letter list
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.DEAD, JobStatus.CANCELLED)


class JobKind(enum.StrEnum):
    INGEST = "document.ingest"
    DELETE = "document.delete"
    DROP_COLLECTION = "collection.drop"
    SERVICE_RUN = "service.run"
    CALLBACK = "callback.deliver"
    STREAM_PUBLISH = "stream.publish"
    CALIBRATE = "collection.calibrate"


DEFAULT_TENANT = "default"
"""The tenant of collections made without API keys (auth off, or before tenants existed)."""


@dataclass(frozen=True, slots=True)
class FusionCandidate:
    """One fusion tried during a calibration and how well it found the pseudo-queries' sources."""

    normalisation: str  # "minmax", "zscore" or "rrf"
    vector_weight: float
    score: float  # mean nDCG@10 over the pseudo-queries


@dataclass(frozen=True, slots=True)
class FusionCalibration:
    """How hybrid search fuses its legs in one collection, and how that was chosen."""

    normalisation: str
    vector_weight: float
    method: str  # "pseudo-queries", or why the defaults were kept ("too few documents", ...)
    pseudo_queries: int  # how many were scored (0 when the defaults were kept)
    calibrated_at: float
    document_count: int  # documents in the collection when it was chosen
    candidates: tuple[FusionCandidate, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """The stored form (a JSON column)."""
        return {
            "normalisation": self.normalisation,
            "vector_weight": self.vector_weight,
            "method": self.method,
            "pseudo_queries": self.pseudo_queries,
            "calibrated_at": self.calibrated_at,
            "document_count": self.document_count,
            "candidates": [[c.normalisation, c.vector_weight, c.score] for c in self.candidates],
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> FusionCalibration:
        """Inverse of ``as_json``."""
        return cls(
            normalisation=str(value["normalisation"]),
            vector_weight=float(value["vector_weight"]),
            method=str(value["method"]),
            pseudo_queries=int(value["pseudo_queries"]),
            calibrated_at=float(value["calibrated_at"]),
            document_count=int(value["document_count"]),
            candidates=tuple(
                FusionCandidate(str(n), float(w), float(s)) for n, w, s in value.get("candidates", [])
            ),
        )


@dataclass(slots=True)
class Collection:
    name: str
    language: str = "auto"
    description: str = ""
    created_at: float = 0.0
    document_count: int = 0
    chunk_count: int = 0
    embed_model: str | None = None  # the model that made its vectors, recorded by the first ingest
    embed_dimension: int | None = None
    tenant: str = DEFAULT_TENANT  # whose collection it is; other tenants' keys never see it
    fusion: FusionCalibration | None = None  # its hybrid fusion, once calibrated


@dataclass(slots=True)
class Document:
    collection: str
    id: str
    title: str | None
    metadata: dict[str, Any]
    content_hash: str
    version: int  # latest accepted version
    active_version: int | None  # version that searches see (None until the first is ready)
    status: DocumentStatus
    source: str | None = None  # original filename
    mime: str | None = None
    size_bytes: int = 0
    chunk_count: int = 0
    error_code: str | None = None
    error_message: str | None = None
    job_id: str | None = None  # job of the latest version
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(slots=True)
class ChunkRecord:
    key: int
    collection: str
    document_id: str
    version: int
    ordinal: int
    text: str
    start: int
    end: int
    page: int | None
    heading: str | None
    language: str


@dataclass(slots=True)
class Job:
    id: str
    kind: str
    status: JobStatus
    payload: dict[str, Any]
    collection: str | None = None
    document_id: str | None = None
    attempts: int = 0
    max_attempts: int = 4
    next_run_at: float = 0.0
    lease_owner: str | None = None
    lease_expires_at: float | None = None
    progress: float = 0.0
    stage: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    result: dict[str, Any] | None = None
    callback_url: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    tenant: str | None = None  # a service job's caller; jobs of a collection belong to its tenant


@dataclass(frozen=True, slots=True)
class TenantView:
    """What a tenant's key may read of jobs and events: rows of its collections, and rows marked
    with its tenant (service calls, which name no collection)."""

    tenant: str
    collections: tuple[str, ...]


JobResults = dict[str, dict[str, object] | Exception]  # per job id: its result, or what failed it


FilterOp = str  # one of: eq, ne, in, gt, gte, lt, lte


@dataclass(frozen=True, slots=True)
class FieldFilter:
    """A condition on one document metadata field."""

    field: str
    op: FilterOp
    value: Any


@dataclass(slots=True)
class DocumentDraft:
    """A document as accepted from a client, before any processing."""

    collection: str
    id: str
    title: str | None
    metadata: dict[str, Any]
    content_hash: str
    source: str | None
    mime: str | None
    size_bytes: int


@dataclass(frozen=True, slots=True)
class Acceptance:
    """What accepting a document did: ``created``, ``updated`` (new version), ``unchanged``
    (same content: no work), or ``metadata_updated`` (same content, new metadata: no re-indexing)."""

    document: Document
    outcome: str
    job_id: str | None


@dataclass(slots=True)
class NewChunk:
    """A processed chunk ready to store: text, position, analyzer tokens and embedding bytes."""

    ordinal: int
    text: str
    start: int
    end: int
    page: int | None
    heading: str | None
    language: str
    tokens: list[str]
    vector: bytes  # float32 little-endian
