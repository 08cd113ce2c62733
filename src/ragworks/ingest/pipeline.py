"""The ingestion pipeline: parse → chunk → analyze → embed → store → index → activate.

It processes a batch of documents at once so the embedder sees full batches and the index commits
once per batch. A batch of large files is done in groups of about ``group_chunks`` chunks, each
embedded, indexed and activated (its documents ready, its jobs completed) before the next group is
embedded, so memory stays bounded and the first documents do not wait for the last. It is
synchronous and CPU-bound: callers run it in a worker thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from ragworks.domain import DocumentStatus, JobResults, NewChunk
from ragworks.engines.blob.base import BlobStore
from ragworks.engines.embed.base import Embedder, EmbeddingModelMismatch, same_model
from ragworks.engines.index.base import IndexEntry, SearchIndex
from ragworks.engines.store.base import ChunkStore, MetadataStore
from ragworks.ingest.analysis import Analyzer
from ragworks.ingest.chunking import Chunker
from ragworks.ingest.parsers import parse_document
from ragworks.ingest.parsers.base import ParsedDocument, ParseLimits
from ragworks.ingest.parsers.isolation import IsolatedParser
from ragworks.ingest.types import ChunkDraft
from ragworks.observability.metrics import Metrics

log = logging.getLogger(__name__)

Progress = Callable[[Sequence[str], float, str], None]
Finished = Callable[[JobResults], None]
_Result = TypeVar("_Result")


@dataclass(slots=True)
class IngestItem:
    """One document version to process, as described by its ingest job."""

    job_id: str
    collection: str
    document_id: str
    version: int
    title: str | None = None
    text: str | None = None  # inline text (JSON documents)
    blob: str | None = None  # uploaded file (key in the blob store)
    filename: str | None = None


@dataclass(slots=True)
class _Work:
    item: IngestItem
    parsed: ParsedDocument | None = None
    drafts: list[ChunkDraft] = field(default_factory=list)
    chunks: list[NewChunk] = field(default_factory=list)


@dataclass(slots=True)
class IngestPipeline:
    """Turns accepted documents into searchable chunks."""

    store: MetadataStore
    chunk_store: ChunkStore
    index: SearchIndex
    index_lock: threading.Lock
    blobs: BlobStore
    parser: IsolatedParser
    chunker: Chunker
    keyword_chunker: Chunker  # for documents in languages the embedder does not understand
    analyzer: Analyzer
    embedder: Embedder
    limits: ParseLimits
    metrics: Metrics
    group_chunks: int = 2048

    def run(
        self, items: Sequence[IngestItem], progress: Progress, finished: Finished | None = None
    ) -> JobResults:
        """Process ``items``; returns per job id either a result dict or the exception that failed it.

        When the batch takes several groups, ``finished`` gets the outcomes decided so far after each
        group but the last, so their jobs can complete before the rest of the batch.
        """
        outcome: JobResults = self._mark_processing(items)
        reported: set[str] = set()
        group: list[_Work] = []
        chunks = 0
        for item in items:
            if item.job_id in outcome:
                continue
            work = self._parse_and_chunk(item, outcome)
            if work is None:
                continue
            if chunks >= self.group_chunks:  # the group is full, and more comes: finish it first
                self._embed_and_index(group, outcome, progress)
                group, chunks = [], 0
                if finished is not None:
                    finished({i: o for i, o in outcome.items() if i not in reported})
                    reported.update(outcome)
            group.append(work)
            chunks += len(work.drafts)
        if group:
            self._embed_and_index(group, outcome, progress)
        return outcome

    def _parse_and_chunk(self, item: IngestItem, outcome: JobResults) -> _Work | None:
        """The item's chunk drafts; None when it failed (one bad file must not sink the batch)."""
        try:
            parsed = self._parse(item)
            with self.metrics.stage("chunk"):
                return _Work(item=item, parsed=parsed, drafts=self._chunker_for(parsed).chunk(parsed))
        except Exception as exc:
            outcome[item.job_id] = exc
            return None

    def _embed_and_index(self, group: list[_Work], outcome: JobResults, progress: Progress) -> None:
        group = self._same_model_only(group, outcome)
        if not group:
            return
        self._analyze_and_embed(group, progress)
        progress([w.item.job_id for w in group], 0.8, "index")
        with self.metrics.stage("index"):
            self._index(group, outcome)

    def _same_model_only(self, group: list[_Work], outcome: JobResults) -> list[_Work]:
        """The work whose collections hold (or, first ingest, will now hold) this embedder's vectors;
        the rest fail with ``EmbeddingModelMismatch`` (409: a retry would meet the same model)."""
        own = (self.embedder.name, self.embedder.dimension)
        refusals: dict[str, Exception | None] = {}
        for name in dict.fromkeys(w.item.collection for w in group):
            try:
                recorded = self.store.claim_embedding_model(name, *own)
            except Exception as exc:  # the collection's jobs fail; others go on
                refusals[name] = exc
                continue
            refusals[name] = (
                None if same_model(recorded, *own) else EmbeddingModelMismatch(name, recorded, own)
            )
        kept: list[_Work] = []
        for w in group:
            refusal = refusals[w.item.collection]
            if refusal is None:
                kept.append(w)
            else:
                outcome[w.item.job_id] = refusal
        return kept

    def _mark_processing(self, items: Sequence[IngestItem]) -> JobResults:
        """Mark every item's version processing at once; returns the items that could not be marked."""
        try:
            self.store.set_documents_status(
                [(i.collection, i.document_id, i.version) for i in items], DocumentStatus.PROCESSING
            )
            return {}
        except Exception:
            log.warning("marking a batch processing failed; marking one by one", exc_info=True)
        failed: JobResults = {}
        for item in items:
            try:
                self.store.set_document_status(
                    item.collection, item.document_id, item.version, DocumentStatus.PROCESSING
                )
            except Exception as exc:  # fails this document's job only
                failed[item.job_id] = exc
        return failed

    def _chunker_for(self, parsed: ParsedDocument) -> Chunker:
        """Chunks sized for the embedder, unless it cannot read the document's language."""
        sample = "\n".join(b.text for b in parsed.blocks[:20])[:4000]
        readable = self.analyzer.language_of(sample) in self.embedder.languages
        return self.chunker if readable else self.keyword_chunker

    def _parse(self, item: IngestItem) -> ParsedDocument:
        with self.metrics.stage("parse"):
            if item.text is not None:
                # client-given text: no hostile binary to isolate, parse in this thread
                return parse_document(item.text.encode("utf-8"), "document.txt", self.limits)
            assert item.blob is not None
            return self.parser.parse(self.blobs.get(item.blob), item.filename)

    def _analyze_and_embed(self, work: list[_Work], progress: Progress) -> None:
        texts: list[str] = []
        for w in work:
            title = w.item.title or (w.parsed.title if w.parsed else None)
            prefix = f"{title}\n" if title else ""
            texts.extend(prefix + d.text for d in w.drafts)
        progress([w.item.job_id for w in work], 0.4, "analyze")
        with self.metrics.stage("analyze"):
            tokens = self.analyzer.tokens_many(texts)
            languages = [self.analyzer.language_of(t) for t in texts]
        progress([w.item.job_id for w in work], 0.5, "embed")
        with self.metrics.stage("embed"):
            vectors = self.embedder.embed(texts) if texts else np.zeros((0, 0), dtype=np.float32)
        position = 0
        for w in work:
            for draft in w.drafts:
                w.chunks.append(
                    NewChunk(
                        ordinal=draft.ordinal,
                        text=draft.text,
                        start=draft.start,
                        end=draft.end,
                        page=draft.page,
                        heading=draft.heading,
                        language=languages[position],
                        tokens=tokens[position],
                        vector=vectors[position].astype("<f4").tobytes(),
                    )
                )
                position += 1

    def _index(self, work: list[_Work], outcome: JobResults) -> None:
        with self.index_lock:
            written: list[tuple[_Work, list[int]]] = []
            for w, stored in zip(work, self._store_chunks(work), strict=True):
                item = w.item
                if isinstance(stored, Exception):
                    outcome[item.job_id] = stored
                    continue
                stale, keys = stored
                self.index.remove(item.collection, stale)
                self.index.add(
                    item.collection, [self._entry(k, c) for k, c in zip(keys, w.chunks, strict=True)]
                )
                written.append((w, keys))
            self.index.commit()
            with self.metrics.stage("activate"):
                if self._activate(written, outcome):  # first versions replace nothing: no second commit
                    self.index.commit()

    def _store_chunks(self, work: list[_Work]) -> list[tuple[list[int], list[int]] | Exception]:
        """Chunk rows of every document in one transaction (one at a time if that fails)."""
        batch = [(w.item.collection, w.item.document_id, w.item.version, w.chunks) for w in work]
        return _batch_or_each(
            batch, self.chunk_store.replace_chunks_many, self.chunk_store.replace_chunks, "storing chunks"
        )

    def _activate(self, written: list[tuple[_Work, list[int]]], outcome: JobResults) -> int:
        """Swap the new versions in, recording each job's outcome; returns how many index keys were removed."""
        removed = 0
        superseded: list[tuple[_Work, list[int]]] = []
        for (w, keys), old in zip(written, self._activate_versions(written), strict=True):
            item = w.item
            if isinstance(old, Exception):
                outcome[item.job_id] = old
            elif old is None:  # deleted meanwhile, or a newer version is already served
                superseded.append((w, keys))
            else:
                self.index.remove(item.collection, old)
                outcome[item.job_id] = self._result(w, len(keys))
                removed += len(old)
        for w, keys in superseded:
            self.index.remove(w.item.collection, keys)
            outcome[w.item.job_id] = {
                "document_id": w.item.document_id,
                "version": w.item.version,
                "chunks": 0,
                "superseded": True,
            }
            removed += len(keys)
        if superseded:
            self._drop_superseded([w.item for w, _ in superseded])
        return removed

    def _activate_versions(
        self, written: list[tuple[_Work, list[int]]]
    ) -> list[list[int] | None | Exception]:
        """``activate_versions`` for the batch (one document at a time if that fails)."""
        batch = [(w.item.collection, w.item.document_id, w.item.version, len(keys)) for w, keys in written]
        return _batch_or_each(
            batch, self.chunk_store.activate_versions, self.chunk_store.activate_version, "activating"
        )

    def _drop_superseded(self, items: list[IngestItem]) -> None:
        """Delete the chunk rows of versions that will never be served."""
        self.chunk_store.replace_chunks_many([(i.collection, i.document_id, i.version, []) for i in items])

    @staticmethod
    def _result(w: _Work, chunk_count: int) -> dict[str, object]:
        parsed = w.parsed
        return {
            "document_id": w.item.document_id,
            "version": w.item.version,
            "chunks": chunk_count,
            "pages": parsed.page_count if parsed else None,
            "format": parsed.format if parsed else None,
        }

    @staticmethod
    def _entry(key: int, chunk: NewChunk) -> IndexEntry:
        return IndexEntry(key=key, tokens=chunk.tokens, vector=np.frombuffer(chunk.vector, dtype=np.float32))


def _batch_or_each(
    batch: list[Any],
    many: Callable[[list[Any]], Sequence[_Result]],
    one: Callable[..., _Result],
    what: str,
) -> list[_Result | Exception]:
    """``many(batch)`` in one transaction; if it fails, ``one(*item)`` per item, so a bad document
    fails only its own job (its exception takes its place in the list)."""
    try:
        return list(many(batch))
    except Exception:
        log.warning("%s a batch failed; retrying one document at a time", what, exc_info=True)
    results: list[_Result | Exception] = []
    for item in batch:
        try:
            results.append(one(*item))
        except Exception as exc:
            results.append(exc)
    return results
