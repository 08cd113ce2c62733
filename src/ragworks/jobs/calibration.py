"""Keeping each collection's hybrid fusion calibrated as it grows: a chore that enqueues
``collection.calibrate`` for collections that are due, and the handler that runs it."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import anyio

from ragworks.config import SearchSettings
from ragworks.domain import DocumentStatus, Job, JobKind, JobResults
from ragworks.engines.queue.base import JobQueue
from ragworks.engines.store.base import MetadataStore
from ragworks.errors import Conflict, NotFound
from ragworks.jobs.worker import Chore, Handler, JobContext
from ragworks.services.calibration import Calibrator, calibration_due

log = logging.getLogger(__name__)

CHECK_EVERY_S = 30.0


def calibrate_job_id(collection: str, document_count: int) -> str:
    """One job per collection and size: every worker's chore may find it due, one job runs."""
    digest = hashlib.sha256(f"{collection}\0{document_count}".encode()).hexdigest()
    return f"calibrate-{digest[:22]}"


@dataclass(slots=True)
class CalibrationJobs:
    """The ``collection.calibrate`` handler and the chore that enqueues it."""

    store: MetadataStore
    queue: JobQueue
    calibrator: Calibrator
    settings: SearchSettings

    def handlers(self) -> dict[str, Handler]:
        """The registry entries this class provides."""
        return {JobKind.CALIBRATE: self.calibrate}

    def chore(self) -> Chore:
        """The periodic check for collections that are due."""
        return Chore("fusion-calibration", CHECK_EVERY_S, self.enqueue_due)

    async def enqueue_due(self) -> None:
        """Enqueue a calibration for every collection that has grown enough since its last."""
        await anyio.to_thread.run_sync(self._enqueue_due)

    def _enqueue_due(self) -> None:
        for collection in self.store.list_collections():
            try:
                if not calibration_due(collection, self.settings) or self._loading(collection.name):
                    continue
            except NotFound:
                continue  # deleted meanwhile
            job_id = calibrate_job_id(collection.name, collection.document_count)
            try:
                self.queue.enqueue(JobKind.CALIBRATE, {}, collection=collection.name, job_id=job_id)
            except Conflict:
                continue  # enqueued already (by this worker earlier or another)

    def _loading(self, name: str) -> bool:
        """Whether documents of the collection are still being ingested: a bulk load is calibrated
        once, when it settles, instead of at every step of its growth."""
        return any(
            self.store.list_documents(name, status=status, limit=1)
            for status in (DocumentStatus.QUEUED, DocumentStatus.PROCESSING)
        )

    async def calibrate(self, jobs: list[Job], _ctx: JobContext) -> JobResults:
        """Calibrate each job's collection when it is still due (running twice does no harm)."""
        results: JobResults = {}
        for job in jobs:
            try:
                results[job.id] = await anyio.to_thread.run_sync(self._calibrate, job.collection or "")
            except NotFound as exc:
                results[job.id] = {"skipped": str(exc)}
            except Exception as exc:
                results[job.id] = exc
        return results

    def _calibrate(self, name: str) -> dict[str, object]:
        chosen = self.calibrator.calibrate_if_due(name)
        if chosen is None:
            return {"skipped": "calibrated already"}
        log.info(
            "calibrated fusion of %s: %s, vector weight %.1f (%s)",
            name,
            chosen.normalisation,
            chosen.vector_weight,
            chosen.method,
        )
        return {
            "normalisation": chosen.normalisation,
            "vector_weight": chosen.vector_weight,
            "method": chosen.method,
            "pseudo_queries": chosen.pseudo_queries,
            "document_count": chosen.document_count,
        }
