"""Compare HNSW libraries for the vector leg: usearch, hnswlib and faiss.

Measures, per library and corpus size: build time, single-query latency (p50/p99) at several
``ef`` values, recall@10 against exact cosine search, delete support (removed keys never returned),
resident memory growth and save/load time. Libraries that are not installed are skipped, so the
script always exits 0. Run it with an interpreter that has all three, e.g.::

    python bench/vector_index.py --sizes 50000 150000

Vectors are synthetic but embedding-like: a 64-d latent mixture of clusters projected to 384-d plus
noise, L2-normalised (pure Gaussian noise is the HNSW worst case and unlike real embeddings).
Pass ``--data random`` to measure that worst case instead.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

F32 = np.float32
M = 16  # graph degree shared by all libraries so the comparison is like for like
EF_CONSTRUCTION = 128


def make_vectors(n: int, dim: int, kind: str, seed: int) -> np.ndarray:
    """Unit vectors; ``clustered`` has low intrinsic dimension like sentence embeddings."""
    rng = np.random.default_rng(seed)
    if kind == "random":
        x = rng.standard_normal((n, dim)).astype(F32)
    else:
        proj = np.random.default_rng(1).standard_normal((64, dim)).astype(F32)
        centres = np.random.default_rng(2).standard_normal((500, 64)).astype(F32) * 2.0
        latent = centres[rng.integers(0, len(centres), n)] + rng.standard_normal((n, 64)).astype(F32)
        x = latent @ proj + 0.3 * rng.standard_normal((n, dim)).astype(F32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def rss_mb() -> float:
    """Current resident set size in MiB."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class Usearch:
    def __init__(self, dim: int, dtype: str) -> None:
        from usearch.index import Index

        self.cls = Index
        self.dim, self.dtype = dim, dtype
        self.name = f"usearch-{dtype}"
        self.idx = Index(ndim=dim, metric="cos", dtype=dtype, connectivity=M, expansion_add=EF_CONSTRUCTION)

    def build(self, keys: np.ndarray, x: np.ndarray) -> None:
        self.idx.add(keys, x, threads=os.cpu_count() or 1)

    def search(self, q: np.ndarray, k: int, ef: int) -> np.ndarray:
        self.idx.expansion_search = ef
        return np.asarray(self.idx.search(q, k, threads=1).keys)

    def delete(self, keys: np.ndarray) -> None:
        self.idx.remove(keys)

    def save(self, path: Path) -> None:
        self.idx.save(str(path))

    def load(self, path: Path) -> None:
        self.idx = self.cls(ndim=self.dim, metric="cos", dtype=self.dtype)
        self.idx.load(str(path))


class Hnswlib:
    name = "hnswlib"

    def __init__(self, dim: int, capacity: int) -> None:
        import hnswlib

        self.mod, self.dim, self.capacity = hnswlib, dim, capacity
        self.idx = hnswlib.Index(space="cosine", dim=dim)
        self.idx.init_index(max_elements=capacity, ef_construction=EF_CONSTRUCTION, M=M)
        self.idx.set_num_threads(os.cpu_count() or 1)

    def build(self, keys: np.ndarray, x: np.ndarray) -> None:
        self.idx.add_items(x, keys)

    def search(self, q: np.ndarray, k: int, ef: int) -> np.ndarray:
        self.idx.set_ef(ef)
        labels, _ = self.idx.knn_query(q, k=k, num_threads=1)
        return np.asarray(labels[0])

    def delete(self, keys: np.ndarray) -> None:
        for key in keys:
            self.idx.mark_deleted(int(key))

    def save(self, path: Path) -> None:
        self.idx.save_index(str(path))

    def load(self, path: Path) -> None:
        self.idx = self.mod.Index(space="cosine", dim=self.dim)
        self.idx.load_index(str(path), max_elements=self.capacity)


class Faiss:
    name = "faiss-hnsw"

    def __init__(self, dim: int) -> None:
        import faiss

        self.faiss = faiss
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        # Unit vectors: inner product is cosine. IndexIDMap gives external keys; HNSW cannot delete.
        self.hnsw = faiss.IndexHNSWFlat(dim, M, faiss.METRIC_INNER_PRODUCT)
        self.hnsw.hnsw.efConstruction = EF_CONSTRUCTION
        self.idx = faiss.IndexIDMap(self.hnsw)

    def build(self, keys: np.ndarray, x: np.ndarray) -> None:
        self.idx.add_with_ids(x, keys.astype(np.int64))

    def search(self, q: np.ndarray, k: int, ef: int) -> np.ndarray:
        self.faiss.omp_set_num_threads(1)
        params = self.faiss.SearchParametersHNSW(efSearch=ef)
        _, labels = self.idx.search(q.reshape(1, -1), k, params=params)
        return np.asarray(labels[0])

    def delete(self, keys: np.ndarray) -> None:
        self.idx.remove_ids(keys.astype(np.int64))  # raises: HNSW does not support removal

    def save(self, path: Path) -> None:
        self.faiss.write_index(self.idx, str(path))

    def load(self, path: Path) -> None:
        self.idx = self.faiss.read_index(str(path))


def factories(dim: int, capacity: int) -> list[tuple[str, str, Callable[[], Any]]]:
    """(label, module that must be importable, constructor) for every candidate."""
    return [
        ("usearch-f32", "usearch", lambda: Usearch(dim, "f32")),
        ("usearch-f16", "usearch", lambda: Usearch(dim, "f16")),
        ("hnswlib", "hnswlib", lambda: Hnswlib(dim, capacity)),
        ("faiss-hnsw", "faiss", lambda: Faiss(dim)),
    ]


def measure(
    lib: Any, x: np.ndarray, queries: np.ndarray, truth: np.ndarray, efs: list[int]
) -> dict[str, Any]:
    """Run every measurement for one built-from-scratch library instance."""
    n = len(x)
    keys = np.arange(n, dtype=np.uint64)
    gc.collect()
    before = rss_mb()
    t0 = time.perf_counter()
    lib.build(keys, x)
    row: dict[str, Any] = {"build_s": time.perf_counter() - t0, "mem_mb": rss_mb() - before}
    for ef in efs:
        lat, hits = [], 0
        for q, true in zip(queries, truth, strict=True):
            t = time.perf_counter()
            got = lib.search(q, 10, ef)
            lat.append(time.perf_counter() - t)
            hits += len(set(got.tolist()) & set(true.tolist()))
        row[f"ef{ef}"] = (np.percentile(lat, 50) * 1e3, np.percentile(lat, 99) * 1e3, hits / truth.size)
    # Delete the true top hit of every query and check it never comes back.
    victims = np.unique(truth[:, 0]).astype(np.uint64)
    try:
        t0 = time.perf_counter()
        lib.delete(victims)
        row["del_ms"] = (time.perf_counter() - t0) * 1e3
        leaked = sum(int(np.isin(lib.search(q, 10, efs[-1]), victims).any()) for q in queries)
        row["delete"] = "ok" if leaked == 0 else f"LEAK {leaked}"
    except Exception as exc:  # noqa: BLE001 - any failure means "no delete support"
        row["del_ms"], row["delete"] = float("nan"), f"no ({type(exc).__name__})"
    tmp = Path(tempfile.mkdtemp())
    try:
        t0 = time.perf_counter()
        lib.save(tmp / "index.bin")
        row["save_s"] = time.perf_counter() - t0
        row["file_mb"] = (tmp / "index.bin").stat().st_size / 2**20
        t0 = time.perf_counter()
        lib.load(tmp / "index.bin")
        row["load_s"] = time.perf_counter() - t0
    finally:
        shutil.rmtree(tmp)
    return row


def main() -> int:
    """Parse arguments, run every available library and print a markdown table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[50_000, 150_000])
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--ef", type=int, nargs="+", default=[64, 128])
    ap.add_argument("--data", choices=["clustered", "random"], default="clustered")
    ap.add_argument("--only", nargs="*", default=None, help="labels to run, e.g. usearch-f32 hnswlib")
    args = ap.parse_args()

    print(f"# {args.data} {args.dim}-d unit vectors, M={M}, efConstruction={EF_CONSTRUCTION}, ", end="")
    print(f"{os.cpu_count()} CPU(s), {args.queries} single-threaded queries, recall@10 vs exact")
    head = ["library", "n", "build s", "mem MiB"]
    head += [f"ef={ef} p50/p99 ms, recall" for ef in args.ef]
    head += ["delete", "del ms", "save s", "load s", "file MiB"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for n in args.sizes:
        x = make_vectors(n, args.dim, args.data, seed=0)
        queries = make_vectors(args.queries, args.dim, args.data, seed=99)
        truth = np.argsort(-(queries @ x.T), axis=1)[:, :10]
        for label, module, make in factories(args.dim, n):
            if args.only and label not in args.only:
                continue
            if importlib.util.find_spec(module) is None:
                print(f"| {label} | {n} | skipped: {module} not installed |", flush=True)
                continue
            row = measure(make(), x, queries, truth, args.ef)
            cells = [label, str(n), f"{row['build_s']:.1f}", f"{row['mem_mb']:.0f}"]
            cells += ["{:.3f}/{:.3f}, {:.3f}".format(*row[f"ef{ef}"]) for ef in args.ef]
            cells += [row["delete"], f"{row['del_ms']:.1f}", f"{row['save_s']:.2f}"]
            cells += [f"{row['load_s']:.2f}", f"{row['file_mb']:.0f}"]
            print("| " + " | ".join(cells) + " |", flush=True)
            gc.collect()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"# peak RSS {peak:.0f} MiB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
