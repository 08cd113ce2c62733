"""nDCG@10 of exact vector search over whole documents, with queries and documents embedded by chosen
encoders: the question is how much a cheaper query (or document) encoder costs in ranking quality.

Each document is one vector of its title and text (truncated at 256 tokens), ranked by cosine; no
chunking, no keyword leg, so the absolute numbers differ from ``ragworks eval``'s vector mode, while
the difference between encoders is what a collection would see. Document vectors are cached under
``.bench/query-embedding/vectors`` (keyed by corpus file and encoder), since embedding a corpus takes
minutes on two cores.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ragworks.evaluation.beir import corpus_path, load_dataset, read_corpus
from ragworks.evaluation.metrics import ndcg_at_k

Matrix = npt.NDArray[np.float32]
EmbedMany = Callable[[Sequence[str]], Matrix]
EmbedOne = Callable[[str], npt.NDArray[np.float32]]
DEPTH = 100  # documents ranked per query (nDCG@10 reads the first ten)


@dataclass(frozen=True, slots=True)
class EvalSet:
    """One BEIR set's judged queries and its corpus as texts."""

    name: str
    root: Path
    doc_ids: list[str]
    doc_texts: list[str]
    query_ids: list[str]
    query_texts: list[str]
    qrels: dict[str, dict[str, int]]


def load_eval_set(root: Path, split: str = "test") -> EvalSet:
    """Judged queries of ``split`` and every corpus document (title, newline, text)."""
    dataset = load_dataset(root, split)
    docs = list(read_corpus(root))
    return EvalSet(
        name=root.name,
        root=root,
        doc_ids=[d.id for d in docs],
        doc_texts=[f"{d.title}\n{d.text}".strip() for d in docs],
        query_ids=list(dataset.queries),
        query_texts=list(dataset.queries.values()),
        qrels=dataset.qrels,
    )


def document_vectors(dataset: EvalSet, encoder: str, identity: str, embed: EmbedMany, cache: Path) -> Matrix:
    """The corpus embedded by ``embed``, from the cache when the corpus file and ``identity`` match."""
    stat = corpus_path(dataset.root).stat()
    key = hashlib.sha1(f"{dataset.root}|{stat.st_size}|{stat.st_mtime_ns}|{identity}".encode()).hexdigest()
    path = cache / f"{dataset.name}-{encoder}-{key[:12]}.npy"
    if path.is_file():
        return np.asarray(np.load(path), dtype=np.float32)
    vectors = embed(dataset.doc_texts)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def query_vectors(dataset: EvalSet, embed_one: EmbedOne) -> Matrix:
    """The judged queries embedded one at a time, as a search embeds them."""
    return np.stack([embed_one(text) for text in dataset.query_texts]).astype(np.float32)


def mean_ndcg(dataset: EvalSet, queries: Matrix, documents: Matrix) -> float:
    """Mean nDCG@10 over the judged queries, documents ranked by cosine (rows are L2-normalised)."""
    scores = queries @ documents.T
    depth = min(DEPTH, documents.shape[0])
    total = 0.0
    for row, query_id in enumerate(dataset.query_ids):
        top = np.argpartition(-scores[row], depth - 1)[:depth]
        ranked = top[np.argsort(-scores[row][top], kind="stable")]
        total += ndcg_at_k([dataset.doc_ids[i] for i in ranked], dataset.qrels[query_id], 10)
    return total / max(len(dataset.query_ids), 1)


def file_digest(path: Path) -> str:
    """SHA-1 of a file's bytes (identifies an ONNX graph in the vector cache)."""
    return hashlib.sha1(path.read_bytes()).hexdigest()
