"""The ingestion pipeline: parse → chunk → analyze → embed → store → index → activate.

It processes a batch of documents at once so the embedder sees full batches and the index commits
once per batch. It is synchronous and CPU-bound: callers run it in a worker thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ragworks.domain import DocumentStatus, NewChunk
from ragworks.engines.blob.base import BlobStore
from ragworks.engines.embed.base import Embedder
from ragworks.engines.index.base import IndexEntry, SearchIndex
from ragworks.engines.store.sql import SqlMetadataStore
from ragworks.engines.store.sql_chunks import SqlChunkStore
from ragworks.ingest.analysis import Analyzer
from ragworks.ingest.chunking import Chunker
from ragworks.ingest.parsers import parse_document
from ragworks.ingest.parsers.base import ParsedDocument, ParseLimits
from ragworks.ingest.parsers.isolation import IsolatedParser
from ragworks.ingest.types import ChunkDraft
from ragworks.observability.metrics import Metrics

log = logging.getLogger(__name__)

Progress = Callable[[Sequence[str], float, str], None]


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

    store: SqlMetadataStore
    chunk_store: SqlChunkStore
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

    def run(
        self, items: Sequence[IngestItem], progress: Progress
    ) -> dict[str, dict[str, object] | Exception]:
        """Process ``items``; returns per job id either a result dict or the exception that failed it."""
        outcome: dict[str, dict[str, object] | Exception] = {}
        work: list[_Work] = []
        for item in items:
            try:
                self.store.set_document_status(
                    item.collection, item.document_id, item.version, DocumentStatus.PROCESSING
                )
                work.append(_Work(item=item, parsed=self._parse(item)))
            except Exception as exc:  # one bad file must not sink the batch
                outcome[item.job_id] = exc
        progress([w.item.job_id for w in work], 0.3, "chunk")
        with self.metrics.stage("chunk"):
            for w in list(work):
                assert w.parsed is not None
                try:
                    w.drafts = self._chunker_for(w.parsed).chunk(w.parsed)
                except Exception as exc:  # as above: fail this document, not the batch
                    outcome[w.item.job_id] = exc
                    work.remove(w)
        self._analyze_and_embed(work, progress)
        progress([w.item.job_id for w in work], 0.8, "index")
        with self.metrics.stage("index"):
            self._index(work, outcome)
        return outcome

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

    def _index(self, work: list[_Work], outcome: dict[str, dict[str, object] | Exception]) -> None:
        written: list[tuple[_Work, list[int]]] = []
        with self.index_lock:
            for w in work:
                item = w.item
                try:
                    stale, keys = self.chunk_store.replace_chunks(
                        item.collection, item.document_id, item.version, w.chunks
                    )
                except Exception as exc:
                    outcome[item.job_id] = exc
                    continue
                self.index.remove(item.collection, stale)
                self.index.add(
                    item.collection, [self._entry(k, c) for k, c in zip(keys, w.chunks, strict=True)]
                )
                written.append((w, keys))
            self.index.commit()
            with self.metrics.stage("activate"):
                removed = 0
                for w, keys in written:
                    outcome[w.item.job_id], dropped = self._activate(w, keys)
                    removed += dropped
                if removed:  # first versions replace nothing: no second commit needed
                    self.index.commit()

    def _activate(self, w: _Work, keys: list[int]) -> tuple[dict[str, object] | Exception, int]:
        """Swap the new version in; returns the job's outcome and how many index keys were removed."""
        item = w.item
        try:
            old = self.chunk_store.activate_version(
                item.collection, item.document_id, item.version, len(keys)
            )
        except Exception as exc:
            return exc, 0
        if old is None:  # deleted meanwhile, or a newer version is already served
            self.index.remove(item.collection, keys)
            self.chunk_store.replace_chunks(item.collection, item.document_id, item.version, [])
            result = {
                "document_id": item.document_id,
                "version": item.version,
                "chunks": 0,
                "superseded": True,
            }
            return result, len(keys)
        self.index.remove(item.collection, old)
        parsed = w.parsed
        result = {
            "document_id": item.document_id,
            "version": item.version,
            "chunks": len(keys),
            "pages": parsed.page_count if parsed else None,
            "format": parsed.format if parsed else None,
        }
        return result, len(old)

    @staticmethod
    def _entry(key: int, chunk: NewChunk) -> IndexEntry:
        return IndexEntry(key=key, tokens=chunk.tokens, vector=np.frombuffer(chunk.vector, dtype=np.float32))
