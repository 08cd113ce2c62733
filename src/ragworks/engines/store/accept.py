"""Accepting a batch of documents: each decided in memory in order, then written in a few statements."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, bindparam, insert, update

from ragworks.domain import Acceptance, Document, DocumentDraft, DocumentStatus, JobKind
from ragworks.engines.queue.sql import job_row
from ragworks.engines.store.schema import documents, jobs

_IN_FLIGHT = (DocumentStatus.QUEUED, DocumentStatus.PROCESSING, DocumentStatus.READY)

_UPDATE_DOCUMENT = (
    update(documents)
    .where(documents.c.collection == bindparam("b_collection"), documents.c.id == bindparam("b_id"))
    .values({c.name: bindparam(f"b_{c.name}") for c in documents.c if not c.primary_key})
)


@dataclass(slots=True)
class AcceptBatch:
    """The decisions of one ``accept_documents`` call, made in memory and written in a few statements."""

    known: dict[tuple[str, str], Document]  # the stored documents, then as decided so far
    max_attempts: int
    now: float
    stored: set[tuple[str, str]] = field(init=False)  # keys that already have a row
    changed: dict[tuple[str, str], Document] = field(default_factory=dict)
    new_jobs: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.stored = set(self.known)

    def accept(self, draft: DocumentDraft, payload: dict[str, Any]) -> Acceptance:
        """Decide one document as ``accept_document`` does, against the state left by earlier items."""
        existing = self.known.get((draft.collection, draft.id))
        if existing and existing.content_hash == draft.content_hash and existing.status in _IN_FLIGHT:
            return self._same_content(existing, draft)
        version = existing.version + 1 if existing else 1
        job = job_row(
            kind=JobKind.INGEST,
            payload={**payload, "version": version},
            collection=draft.collection,
            document_id=draft.id,
            max_attempts=self.max_attempts,
        )
        self.new_jobs.append(job)
        values: dict[str, Any] = {
            "title": draft.title,
            "metadata": _as_stored(draft.metadata),
            "content_hash": draft.content_hash,
            "version": version,
            "status": DocumentStatus.QUEUED,
            "source": draft.source,
            "mime": draft.mime,
            "size_bytes": draft.size_bytes,
            "error_code": None,
            "error_message": None,
            "job_id": job["id"],
            "updated_at": self.now,
        }
        if existing and existing.status != DocumentStatus.DELETED:
            document = dataclasses.replace(existing, **values)
        elif existing:  # accepted again after a delete: a new document whose versions go on from the old
            document = dataclasses.replace(
                existing, **values, active_version=None, chunk_count=0, created_at=self.now
            )
        else:
            document = Document(
                collection=draft.collection,
                id=draft.id,
                active_version=None,
                chunk_count=0,
                created_at=self.now,
                **values,
            )
        self._record(document)
        outcome = "updated" if existing and existing.status != DocumentStatus.DELETED else "created"
        return Acceptance(document=document, outcome=outcome, job_id=job["id"])

    def _same_content(self, existing: Document, draft: DocumentDraft) -> Acceptance:
        if existing.metadata == draft.metadata and (draft.title is None or draft.title == existing.title):
            return Acceptance(document=existing, outcome="unchanged", job_id=existing.job_id)
        # metadata lives only here (filters read it from SQL), so no re-indexing is needed
        document = dataclasses.replace(
            existing,
            metadata=_as_stored(draft.metadata),
            title=draft.title or existing.title,
            updated_at=self.now,
        )
        self._record(document)
        return Acceptance(document=document, outcome="metadata_updated", job_id=existing.job_id)

    def _record(self, document: Document) -> None:
        key = (document.collection, document.id)
        self.known[key] = self.changed[key] = document

    def write(self, conn: Connection) -> None:
        """Insert the new jobs and documents and update the changed ones (executemany each)."""
        if self.new_jobs:
            conn.execute(insert(jobs), self.new_jobs)
        rows = {key: dataclasses.asdict(document) for key, document in self.changed.items()}
        created = [row for key, row in rows.items() if key not in self.stored]
        if created:
            conn.execute(insert(documents), created)
        updated = [{f"b_{k}": v for k, v in row.items()} for key, row in rows.items() if key in self.stored]
        if updated:
            conn.execute(_UPDATE_DOCUMENT, updated)


def _as_stored(metadata: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``metadata`` as the JSON column gives it back."""
    return dict(json.loads(json.dumps(metadata)))
