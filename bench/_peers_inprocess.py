"""The in-process floor of bench/peers_compare.py: what the index calls alone cost, with no HTTP, no
framework and no service code — tantivy keyword search on analysed tokens, usearch vector search on
a query vector — and, beside them, the two per-query steps before them (query analysis, MiniLM query
embedding). Opened on a copy of the served data dir, one call at a time on one thread, so the CPU
time of the process over the loop is the CPU of those calls.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import BENCH_DIR, percentile


@dataclass
class Floor:
    """Per call: CPU ms (process time over the loop / calls), wall p50 and p99 ms."""

    name: str
    calls: int
    cpu_ms: float
    p50_ms: float
    p99_ms: float


def _time(name: str, call: Callable[[Any], object], inputs: list[Any]) -> Floor:
    warm, timed = inputs[:10], inputs[10:]  # the timed inputs are new: the query-vector cache misses
    for item in warm:  # lazy paths, first-call costs
        call(item)
    walls: list[float] = []
    cpu_started = time.process_time()
    for item in timed:
        started = time.perf_counter()
        call(item)
        walls.append((time.perf_counter() - started) * 1000)
    cpu_ms = (time.process_time() - cpu_started) * 1000 / len(timed)
    return Floor(name, len(timed), cpu_ms, percentile(walls, 50), percentile(walls, 99))


def index_floor(data_dir: Path, collection: str, queries: list[str], top_k: int = 10) -> list[Floor]:
    """Analysis, embedding, keyword and vector search of ``queries``, each timed alone."""
    from ragworks.config import Settings
    from ragworks.engines.embed.base import submit_query
    from ragworks.roles.embedded import build_embedded

    with tempfile.TemporaryDirectory(dir=BENCH_DIR) as scratch:
        copy = Path(scratch) / "data"
        shutil.copytree(data_dir, copy, ignore=shutil.ignore_patterns(".lock"))
        container = build_embedded(Settings(data_dir=copy, log_json=False))
        container.start_engines()
        try:
            analyzer, embedder, index = container.analyzer, container.embedder, container.index
            # the embedding is timed on its own half of the texts: vectors of the other half are cached
            half = len(queries) // 2
            queries, fresh = queries[:half], queries[half:]
            tokens = [analyzer.tokens(q) for q in queries]
            vectors = [submit_query(embedder, q).result() for q in queries]
            pool = container.settings.search.candidates
            return [
                _time("query analysis (Kiwi/Snowball tokens)", analyzer.tokens, queries),
                _time("MiniLM query embedding (query path)", lambda q: submit_query(embedder, q).result(), fresh),
                _time(f"tantivy keyword search (top {top_k})", lambda t: index.keyword_search(collection, t, top_k), tokens),
                _time(f"tantivy keyword search (top {pool}, hybrid pool)", lambda t: index.keyword_search(collection, t, pool), tokens),
                _time(f"usearch vector search (top {pool})", lambda v: index.vector_search(collection, v, pool), vectors),
            ]  # fmt: skip
        finally:
            container.stop_engines()
