"""Ingest a BEIR corpus into a scratch collection and measure retrieval quality, per mode."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import anyio

from ragworks.container import Container
from ragworks.domain import FusionCalibration, JobKind, JobStatus
from ragworks.evaluation.beir import Dataset, read_corpus
from ragworks.evaluation.metrics import summarise
from ragworks.services.documents import DocumentService, TextDocument
from ragworks.services.retrieve_models import RetrieveInput

Progress = Callable[[int, int], None]  # (done, total)
_WAITING = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.FAILED)


async def ingest_corpus(container: Container, collection: str, root: Path, progress: Progress) -> float:
    """Add every corpus document to ``collection`` and wait until all are indexed; returns seconds."""
    started = time.perf_counter()
    intake = DocumentService(
        store=container.store,
        blobs=container.blobs,
        max_attempts=container.settings.jobs.max_attempts,
        on_enqueued=container.notify_workers,
    )
    total = 0
    docs = iter(read_corpus(root))
    while batch := list(itertools.islice(docs, 1000)):
        texts = [TextDocument(text=d.text or d.title, id=d.id, title=d.title or None) for d in batch]
        await intake.accept_texts(collection, texts)
        total += len(batch)
    await wait_for_ingestion(container, total, progress)
    return time.perf_counter() - started


async def wait_for_ingestion(container: Container, total: int, progress: Progress) -> None:
    """Return once no ingest job is queued, running or waiting to retry (an index left half-built by
    an interrupted run is finished by the workers first)."""
    while True:
        counts = await anyio.to_thread.run_sync(container.jobs.counts)
        waiting = sum(
            n for (kind, status), n in counts.items() if kind == JobKind.INGEST and status in _WAITING
        )
        progress(total - waiting, total)
        if waiting == 0:
            return
        await asyncio.sleep(0.5)


def ensure_calibrated(container: Container, collection: str) -> FusionCalibration | None:
    """The collection's fusion as a served collection of its size would have it: calibrated now unless
    its calibration was made at this document count (None when it is too small to calibrate)."""
    found = container.store.get_collection(collection)
    if found.fusion is not None and found.fusion.document_count == found.document_count:
        return found.fusion
    if found.document_count < container.settings.search.calibration_min_documents:
        return None
    return container.search.calibrator.calibrate(collection)


def describe_calibration(calibration: FusionCalibration | None) -> str:
    """One line saying what the calibration chose and how."""
    if calibration is None:
        return "fusion: the defaults (collection too small to calibrate)"
    best: dict[str, tuple[float, float]] = {}
    for candidate in calibration.candidates:
        if candidate.score > best.get(candidate.normalisation, (-1.0, 0.0))[0]:
            best[candidate.normalisation] = (candidate.score, candidate.vector_weight)
    tried = ", ".join(f"{n} best {s:.3f} at {w:.1f}" for n, (s, w) in best.items())
    return (
        f"fusion: {calibration.normalisation}, vector weight {calibration.vector_weight:.1f} "
        f"({calibration.method}, {calibration.pseudo_queries} pseudo-queries at "
        f"{calibration.document_count} documents{'; ' + tried if tried else ''})"
    )


def rank_documents(
    container: Container, collection: str, query: str, mode: str, depth: int = 100
) -> list[str]:
    """Document ids best first: chunks retrieved, each document ranked by its best chunk."""
    request = RetrieveInput(
        query=query,
        collections=[collection],
        top_k=depth * 3,
        mode=mode,
        highlight=False,
    )
    output = container.retriever.retrieve(request)
    ranking: list[str] = []
    seen: set[str] = set()
    for hit in output.results:
        if hit.document_id not in seen:
            seen.add(hit.document_id)
            ranking.append(hit.document_id)
    return ranking[:depth]


def evaluate(
    container: Container, collection: str, dataset: Dataset, modes: Sequence[str], progress: Progress
) -> dict[str, dict[str, float]]:
    """Metrics per mode over the dataset's judged queries."""
    report: dict[str, dict[str, float]] = {}
    total = len(dataset.queries) * len(modes)
    done = 0
    for mode in modes:
        rankings: dict[str, list[str]] = {}
        started = time.perf_counter()
        for query_id, text in dataset.queries.items():
            rankings[query_id] = rank_documents(container, collection, text, mode)
            done += 1
            progress(done, total)
        elapsed = time.perf_counter() - started
        report[mode] = summarise(rankings, dataset.qrels)
        report[mode]["ms_per_query"] = round(1000 * elapsed / max(len(dataset.queries), 1), 2)
    return report
