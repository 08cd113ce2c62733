"""BM25 keyword leg on tantivy: one index directory per collection.

Tokens arrive already analysed (morphemes, stems), so the body field uses tantivy's
``whitespace`` tokenizer and is fed the tokens joined by single spaces: every token reaches the
term dictionary unchanged (``covid-19``, ``지사``, ``C++``; case is kept). Only term frequencies
are indexed, because queries are bags of terms and never need positions.

Queries are built with tantivy's Query API (term queries OR-ed in a boolean SHOULD query), never
with the query-parser string, so user text cannot inject query syntax.

Filtering by ``allowed`` keys: up to ``TERM_SET_MAX`` keys the key restriction is pushed into
tantivy as a term-set query joined with MUST, which is exact and scores only allowed documents.
Building the term set costs ~1.5 us per key on every query (SciFact, 5k docs: 2 ms for 1,000 keys,
4 ms for 2,600, against 0.4 ms for post-filtering the 2,600), so larger sets over-fetch in
proportion to their selectivity and post-filter, widening 4x until ``limit`` allowed hits are
found or the matches are exhausted.

One ``IndexWriter`` stays open per collection (tantivy allows one per index); it is only touched
by the single writer thread. Searches use a searcher snapshot that is swapped after each commit.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Collection as AbstractSet
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import tantivy

from ragworks.engines.index.base import MAX_KEY, Hit
from ragworks.errors import RagworksError


class KeywordIndexWriteFailed(RagworksError):
    """tantivy could not write (an io error, most often a full disk, kills its writer for good): the
    writer is dropped with what it had staged, and the next write opens a fresh one. An outage: the
    job that wrote retries without using up its attempts."""

    status_code = 503
    code = "index_write_failed"
    outage = True


KEY_FIELD = "key"
BODY_FIELD = "body"
WRITER_HEAP_BYTES = 64_000_000
# Above this many allowed keys, building the term set costs more than post-filtering a wider fetch.
TERM_SET_MAX = 1_024


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field(KEY_FIELD, stored=False, indexed=True, fast=True)
    builder.add_text_field(BODY_FIELD, stored=False, tokenizer_name="whitespace", index_option="freq")
    return builder.build()


def _unique(tokens: Iterable[str]) -> list[str]:
    # A repeated query term would be scored twice; queries are treated as sets of terms.
    return [t for t in dict.fromkeys(tokens) if t and not any(c.isspace() for c in t)]


class KeywordIndex:
    """The BM25 leg of one collection, stored in ``path``."""

    def __init__(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._schema = _schema()
        self._index = tantivy.Index(self._schema, path=str(path), reuse=True)
        self._index.reload()
        self._searcher = self._index.searcher()
        self._writer: tantivy.IndexWriter | None = None
        self._dirty = False
        self._write_lock = threading.RLock()  # guards the writer against a concurrent close()

    def _get_writer(self) -> tantivy.IndexWriter:
        if self._writer is None:
            # One indexing thread: the caller has a single writer thread and the box has 2 cores.
            self._writer = self._index.writer(heap_size=WRITER_HEAP_BYTES, num_threads=1)
        return self._writer

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """Hold the write lock; a failed write drops the writer (see ``KeywordIndexWriteFailed``).
        Callers reach the writer through ``_get_writer()`` each time, never a local variable: a frame
        of the traceback would keep the broken writer, and its lock on the index, alive."""
        with self._write_lock:
            try:
                yield
            except ValueError as exc:
                broken, self._writer, self._dirty = self._writer, None, False
                if broken is not None:
                    with contextlib.suppress(Exception):
                        broken.rollback()
                    del broken  # the last reference: dropping it releases the index's writer lock
                raise KeywordIndexWriteFailed(f"the keyword index could not be written: {exc}") from exc

    def add(self, entries: Iterable[tuple[int, Sequence[str]]]) -> None:
        """Stage (key, tokens) documents, replacing any document with the same key."""
        with self._writing():
            for key, tokens in entries:
                # Delete-then-add in one commit: tantivy applies the delete only to older documents.
                self._get_writer().delete_documents_by_term(KEY_FIELD, key)
                doc = tantivy.Document()
                doc.add_integer(KEY_FIELD, key)
                doc.add_text(BODY_FIELD, " ".join(t for t in tokens if t))
                self._get_writer().add_document(doc)
            self._dirty = True

    def remove(self, keys: Iterable[int]) -> None:
        """Stage removal of ``keys``; unknown keys are ignored."""
        with self._writing():
            for key in keys:
                self._get_writer().delete_documents_by_term(KEY_FIELD, key)
            self._dirty = True

    def commit(self) -> None:
        """Make staged changes durable and visible to new searches."""
        with self._write_lock:
            if not self._dirty or self._writer is None:
                return
            with self._writing():
                self._get_writer().commit()
                self._dirty = False
                self._index.reload()
                self._searcher = self._index.searcher()

    def search(self, tokens: Sequence[str], limit: int, allowed: AbstractSet[int] | None = None) -> list[Hit]:
        """BM25 top ``limit`` over the OR of ``tokens``, restricted to ``allowed`` when given."""
        terms = _unique(tokens)
        if not terms or limit <= 0 or (allowed is not None and not allowed):
            return []
        searcher = self._searcher  # one snapshot for the whole call
        query = tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Should, tantivy.Query.term_query(self._schema, BODY_FIELD, t, "freq"))
                for t in terms
            ]
        )
        if allowed is None:
            return self._run(searcher, query, limit)
        if len(allowed) <= TERM_SET_MAX:
            keys = [k for k in allowed if 0 <= k <= MAX_KEY]
            key_set = tantivy.Query.term_set_query(self._schema, KEY_FIELD, keys)
            both = tantivy.Query.boolean_query([(tantivy.Occur.Must, query), (tantivy.Occur.Must, key_set)])
            return self._run(searcher, both, limit)
        fetch = max(limit * 2, math.ceil(2 * limit * searcher.num_docs / len(allowed)))
        while True:
            hits = self._run(searcher, query, fetch)
            kept = [h for h in hits if h.key in allowed]
            if len(kept) >= limit or len(hits) < fetch:
                return kept[:limit]
            fetch *= 4

    @staticmethod
    def _run(searcher: tantivy.Searcher, query: tantivy.Query, limit: int) -> list[Hit]:
        result = searcher.search(query, limit, count=False)
        if not result.hits:
            return []
        keys = searcher.fast_field_values(KEY_FIELD, [addr for _, addr in result.hits])
        return [Hit(int(k or 0), float(s)) for k, (s, _) in zip(keys, result.hits, strict=True)]

    def count(self) -> int:
        """Number of committed documents."""
        return int(self._searcher.num_docs)

    def keys(self) -> set[int]:
        """All committed keys."""
        searcher = self._searcher
        total = int(searcher.num_docs)
        if total == 0:
            return set()
        result = searcher.search(tantivy.Query.all_query(), total, count=False)
        values = searcher.fast_field_values(KEY_FIELD, [a for _, a in result.hits])
        return {int(k) for k in values if k is not None}

    def close(self) -> None:
        """Discard uncommitted changes, wait for merges and release the writer lock."""
        with self._write_lock:
            writer, self._writer = self._writer, None
            if writer is not None:
                writer.rollback()
                writer.wait_merging_threads()
