"""Job handlers: what each job kind does. Every handler is idempotent (safe to run twice)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import anyio

from ragworks.domain import Document, DocumentStatus, Job, JobKind, JobResults, JobStatus
from ragworks.engines.blob.base import BlobStore
from ragworks.engines.index.base import SearchIndex
from ragworks.engines.queue.base import JobQueue
from ragworks.engines.store.base import ChunkStore, MetadataStore
from ragworks.errors import NotFound
from ragworks.ingest.pipeline import IngestItem, IngestPipeline
from ragworks.jobs.worker import Handler, JobContext

log = logging.getLogger(__name__)


@dataclass(slots=True)
class DocumentJobs:
    """Handlers for ``document.ingest`` and ``document.delete`` jobs."""

    store: MetadataStore
    chunk_store: ChunkStore
    queue: JobQueue
    index: SearchIndex
    index_lock: threading.Lock
    blobs: BlobStore
    pipeline: IngestPipeline

    def handlers(self) -> dict[str, Handler]:
        """The registry entries this class provides."""
        return {JobKind.INGEST: self.ingest, JobKind.DELETE: self.delete}

    async def ingest(self, jobs: list[Job], ctx: JobContext) -> JobResults:
        """Index a batch of document versions."""
        results: JobResults = {}
        items: list[IngestItem] = []
        skips = await anyio.to_thread.run_sync(self._skip_reasons, jobs)
        for job in jobs:
            skip = skips[job.id]
            if skip is not None:
                results[job.id] = skip
                continue
            payload = job.payload
            items.append(
                IngestItem(
                    job_id=job.id,
                    collection=job.collection or "",
                    document_id=job.document_id or "",
                    version=int(payload["version"]),
                    title=payload.get("title"),
                    text=payload.get("text"),
                    blob=payload.get("blob"),
                    filename=payload.get("filename"),
                )
            )
        if items:
            await ctx.progress([i.job_id for i in items], 0.1, "parse")
            results.update(
                await anyio.to_thread.run_sync(self.pipeline.run, items, ctx.progress_sync, ctx.finished_sync)
            )
        return results

    def _skip_reasons(self, jobs: list[Job]) -> dict[str, dict[str, object] | Exception | None]:
        """``_skip_reason`` of each job, with the documents of all of them read in one query."""
        found = self.store.get_documents([(j.collection or "", j.document_id or "") for j in jobs])
        return {
            j.id: self._skip_reason(j, found.get((j.collection or "", j.document_id or ""))) for j in jobs
        }

    def _skip_reason(self, job: Job, document: Document | None) -> dict[str, object] | Exception | None:
        """A result when there is nothing to do: the version is served already, superseded or deleted."""
        version = int(job.payload["version"])
        if document is None:
            try:  # the single read names what is missing: the collection or the document
                document = self.store.get_document(job.collection or "", job.document_id or "")
            except NotFound as exc:
                return exc
        if document.status == DocumentStatus.DELETED:
            return {"document_id": document.id, "version": version, "skipped": "document deleted"}
        if (document.active_version or 0) >= version:
            return {"document_id": document.id, "version": version, "skipped": "already indexed"}
        if document.version > version:
            return {
                "document_id": document.id,
                "version": version,
                "skipped": "superseded by a newer version",
            }
        return None

    async def delete(self, jobs: list[Job], _ctx: JobContext) -> JobResults:
        """Purge deleted documents from the store and both index legs."""
        results: JobResults = {}
        for job in jobs:
            try:
                results[job.id] = await anyio.to_thread.run_sync(self._purge, job)
            except Exception as exc:
                results[job.id] = exc
        return results

    def _purge(self, job: Job) -> dict[str, object]:
        collection, document_id = job.collection or "", job.document_id or ""
        with self.index_lock:
            through = job.payload.get("version")
            keys = self.chunk_store.purge_document(
                collection, document_id, int(through) if through is not None else None
            )
            self.index.remove(collection, keys)
            self.index.commit()
        return {"document_id": document_id, "chunks_removed": len(keys)}

    async def on_finished(self, job: Job, status: JobStatus, error: Exception | None) -> None:
        """Keep the document in step with its job: failed when dead, blob freed when done."""
        if job.kind != JobKind.INGEST:
            return
        if status == JobStatus.DEAD and error is not None:
            code = getattr(error, "code", type(error).__name__)
            await anyio.to_thread.run_sync(
                self.store.set_document_status,
                job.collection or "",
                job.document_id or "",
                int(job.payload["version"]),
                DocumentStatus.FAILED,
                (code, str(error) or type(error).__name__),
            )
        blob = job.payload.get("blob")
        if status == JobStatus.SUCCEEDED and blob:
            await anyio.to_thread.run_sync(self._release_blob, job.id, blob)

    def _release_blob(self, job_id: str, blob: str) -> None:
        if not self.queue.blob_in_use(blob, excluding=job_id):
            self.blobs.delete(blob)
